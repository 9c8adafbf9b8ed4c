#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace lookbook {

class ArticleTable;
class CustomerTable;

// The id the user most likely meant when `id` is unknown: the first known id among its repairs
// (surrounding spaces or quotes trimmed, leading zeros restored up to example_id's length when
// both are digits, lower case, upper case); nullopt when none is known.
std::optional<std::string> repaired_id(std::string_view id,
                                       const std::function<bool(std::string_view)>& known,
                                       std::string_view example_id);

// The message for an id the store does not know, with the likeliest repair when one matches a
// known id: the id without surrounding spaces or quotes (copied from a CSV), with its leading
// zeros restored (spreadsheets drop them from "0108775015"), or in another letter case (customer
// ids are lower-case hex). Otherwise it shows what ids in this store look like.
//   kind:       "article" or "customer", the start of the message
//   where:      e.g. "the store's catalog"
//   known:      whether an id exists
//   example_id: any id of the store (its first), to show the expected shape; may be empty
std::string unknown_id_message(std::string_view kind,
                               std::string_view where,
                               std::string_view id,
                               const std::function<bool(std::string_view)>& known,
                               std::string_view example_id);

// unknown_id_message for the store's articles ("the store's catalog") and customers.
std::string unknown_article_message(const ArticleTable& articles, std::string_view id);
std::string unknown_customer_message(const CustomerTable& customers, std::string_view id);
// What to say when a command needs the article embeddings and the store at `store_dir` has
// none yet: `lookbook build` for a newcomer, `lookbook embed --model` for a pretrained folder.
std::string no_embeddings_message(const std::string& store_dir);

// repaired_id over the store's articles.
std::optional<std::string> repaired_article_id(const ArticleTable& articles, std::string_view id);

}  // namespace lookbook
