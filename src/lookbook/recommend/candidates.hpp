#pragma once

#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// The contract between the personal recommenders (two-tower, collaborative filtering, profile
// similarity, repurchase, trending) and the blend that merges them. Each source is usable alone
// through this interface; the blend, `lookbook evaluate` and the web server see only this.
namespace lookbook {

constexpr uint32_t kNoRow = std::numeric_limits<uint32_t>::max();

// One thing a customer did, as recommenders see it: a purchase from the store's transactions
// or a live event (purchase or view) recorded since the last build.
struct Interaction {
    enum class Kind : uint8_t { kPurchase, kView };
    uint32_t article = kNoRow;  // row in the store's ArticleTable
    int32_t day = 0;            // days since 1970-01-01
    Kind kind = Kind::kPurchase;
};

// Who is asking and when. `customer` is the CustomerTable row, or kNoRow for a customer the
// store does not know (served from `history` and popularity alone). `history` holds the
// store's transactions of that customer up to `today` followed by live events, oldest first;
// sources must use it rather than re-reading the store, so a live event changes the answer
// at once and an evaluation cannot see the future.
struct CustomerContext {
    uint32_t customer = kNoRow;
    int32_t today = 0;
    std::span<const Interaction> history;
};

// One suggestion of one source. `score` only orders suggestions within the source (the blend
// normalises). `because_of` is the article in the history that led to it (kNoRow when none);
// `reason` is a short sentence for a shopper: "because you bought Strap top",
// "popular with customers aged 25-34 this week".
struct Candidate {
    uint32_t article = kNoRow;
    float score = 0;
    uint32_t because_of = kNoRow;
    std::string reason;
};

class CandidateSource {
  public:
    virtual ~CandidateSource() = default;
    // A stable lower-case name used in reasons, weights and reports: "two_tower", "als", ...
    virtual std::string_view name() const = 0;
    // Up to k candidates, best first, each with its reason. Must be safe to call from several
    // threads at once.
    virtual std::vector<Candidate> candidates(const CustomerContext& context, size_t k) const = 0;

    // The same list, but a source may leave `reason` empty (and `because_of` kNoRow when the
    // reason finds it) for explain() to fill later. The blend shows k of several hundred
    // candidates, and a reason can cost more than the ranking (a name lookup and format, a scan
    // of the history per candidate), so the recommender asks reasons of the shown ones only.
    virtual std::vector<Candidate> ranked(const CustomerContext& context, size_t k) const {
        return candidates(context, k);
    }
    // Fills the reason (and because_of) of a candidate ranked() returned without one, exactly
    // as candidates() would have. Does nothing for a source whose ranked() gives reasons.
    virtual void explain(const CustomerContext& context, Candidate* candidate) const {
        (void)context;
        (void)candidate;
    }
    // explain() of several candidates, each filled exactly as explain() fills it. A source
    // whose reasons share work per customer (profile similarity weighs the history) overrides
    // it to do that work once.
    virtual void explain_many(const CustomerContext& context,
                              std::span<Candidate> candidates) const {
        for (Candidate& candidate : candidates) {
            explain(context, &candidate);
        }
    }

  protected:
    // candidates() of a source that implements ranked() and explain(): every one explained.
    std::vector<Candidate> explain_all(const CustomerContext& context,
                                       std::vector<Candidate> list) const {
        explain_many(context, list);
        return list;
    }
};

}  // namespace lookbook
