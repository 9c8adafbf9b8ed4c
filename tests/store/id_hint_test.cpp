#include "lookbook/store/id_hint.hpp"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace lookbook {
namespace {

// A tiny id set: two articles and a hex customer id.
bool known(std::string_view id) {
    static const std::set<std::string, std::less<>> ids = {
        "0108775015",
        "0706016001",
        "00000dbacae5abe5e23885899a1fa44253a17956c6d1c3d25f88aa139fdfc657"};
    return ids.count(id) > 0;
}

TEST(UnknownIdMessage, RestoresLeadingZerosASpreadsheetDropped) {
    EXPECT_EQ(
        unknown_id_message("article", "the store's catalog", "108775015", known, "0108775015"),
        "article \"108775015\" is not in the store's catalog; did you mean \"0108775015\"?");
}

TEST(UnknownIdMessage, TrimsSpacesAndQuotesCopiedFromACsv) {
    EXPECT_EQ(unknown_id_message(
                  "article", "the store's catalog", " \"0706016001\"\r", known, "0108775015"),
              "article \" \"0706016001\"\r\" is not in the store's catalog; did you mean "
              "\"0706016001\"?");
    // Both repairs at once: quotes around an id that also lost its zero.
    EXPECT_EQ(
        unknown_id_message("article", "the store's catalog", "'706016001'", known, "0108775015"),
        "article \"'706016001'\" is not in the store's catalog; did you mean "
        "\"0706016001\"?");
}

TEST(UnknownIdMessage, FindsAnIdTypedInTheOtherLetterCase) {
    const std::string upper = "00000DBACAE5ABE5E23885899A1FA44253A17956C6D1C3D25F88AA139FDFC657";
    EXPECT_EQ(unknown_id_message("customer", "the store", upper, known, "0108775015"),
              "customer \"" + upper +
                  "\" is not in the store; did you mean "
                  "\"00000dbacae5abe5e23885899a1fa44253a17956c6d1c3d25f88aa139fdfc657\"?");
}

TEST(UnknownIdMessage, ShowsTheShapeOfTheStoresIdsWhenNothingMatches) {
    EXPECT_EQ(unknown_id_message("article", "the store's catalog", "999", known, "0108775015"),
              "article \"999\" is not in the store's catalog; check the id (article ids here "
              "look like \"0108775015\", 10 characters, leading zeros included).");
    // Ids that are not zero-padded numbers get no reminder about zeros.
    EXPECT_EQ(unknown_id_message("customer", "the store", "nobody", known, "c1"),
              "customer \"nobody\" is not in the store; check the id (customer ids here look "
              "like \"c1\", 2 characters).");
    // A longer digit id is never cut down to fit.
    EXPECT_EQ(
        unknown_id_message("article", "the store's catalog", "01087750150", known, "0108775015")
            .find("did you mean"),
        std::string::npos);
}

TEST(RepairedId, ReturnsTheStoredIdOrNothing) {
    EXPECT_EQ(repaired_id("108775015", known, "0108775015"), "0108775015");
    EXPECT_EQ(repaired_id(" 0706016001 ", known, "0108775015"), "0706016001");
    EXPECT_EQ(repaired_id("0108775015", known, "0108775015"), std::nullopt);  // no repair needed
    EXPECT_EQ(repaired_id("42", known, "0108775015"), std::nullopt);
    EXPECT_EQ(repaired_id("   ", known, "0108775015"), std::nullopt);
}

TEST(UnknownIdMessage, SaysSoWhenTheStoreHasNoIdsOfThatKind) {
    EXPECT_EQ(unknown_id_message("customer", "the store", "abc", known, ""),
              "customer \"abc\" is not in the store, which holds no customers.");
    EXPECT_EQ(
        unknown_id_message("customer", "the store", "", known, "0108775015").find("did you mean"),
        std::string::npos);
}

}  // namespace
}  // namespace lookbook
