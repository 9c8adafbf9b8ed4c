#pragma once

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace lookbook::testing {

// A small well-formedness check for the SVG the report writes: every tag closes in order,
// attributes are name="value", text and values hold no raw '<' and no '&' outside an entity.
// Returns "" when well formed, else what is wrong and where. Written here so the tests do not
// trust the code under test to judge its own output.
inline std::string xml_problem(std::string_view xml) {
    std::vector<std::string> open;
    auto entity_ok = [&](size_t at) {
        for (std::string_view entity : {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"}) {
            if (xml.substr(at, entity.size()) == entity) {
                return true;
            }
        }
        return false;
    };
    size_t pos = 0;
    while (pos < xml.size()) {
        char c = xml[pos];
        if (c == '&' && !entity_ok(pos)) {
            return "bare & at byte " + std::to_string(pos);
        }
        if (c == '>') {
            return "bare > at byte " + std::to_string(pos);
        }
        if (c != '<') {
            ++pos;
            continue;
        }
        size_t end = xml.find('>', pos);
        if (end == std::string_view::npos) {
            return "unterminated tag at byte " + std::to_string(pos);
        }
        std::string_view tag = xml.substr(pos + 1, end - pos - 1);
        if (tag.find('<') != std::string_view::npos) {
            return "'<' inside a tag at byte " + std::to_string(pos);
        }
        if (!tag.empty() && tag[0] == '/') {
            std::string name(tag.substr(1));
            if (open.empty() || open.back() != name) {
                return "</" + name + "> closes " + (open.empty() ? "nothing" : open.back());
            }
            open.pop_back();
            pos = end + 1;
            continue;
        }
        bool self_closing = !tag.empty() && tag.back() == '/';
        if (self_closing) {
            tag.remove_suffix(1);
        }
        size_t name_end = 0;
        while (name_end < tag.size() && !std::isspace(static_cast<unsigned char>(tag[name_end]))) {
            ++name_end;
        }
        std::string name(tag.substr(0, name_end));
        if (name.empty()) {
            return "tag without a name at byte " + std::to_string(pos);
        }
        // Attributes: name="value" separated by spaces.
        size_t at = name_end;
        while (at < tag.size()) {
            while (at < tag.size() && std::isspace(static_cast<unsigned char>(tag[at]))) {
                ++at;
            }
            if (at >= tag.size()) {
                break;
            }
            size_t eq = tag.find('=', at);
            if (eq == std::string_view::npos || eq + 1 >= tag.size() || tag[eq + 1] != '"') {
                return "attribute without =\"...\" in <" + name + "> at byte " +
                       std::to_string(pos);
            }
            size_t close = tag.find('"', eq + 2);
            if (close == std::string_view::npos) {
                return "unterminated attribute in <" + name + ">";
            }
            for (size_t idx = eq + 2; idx < close; ++idx) {
                if (tag[idx] == '&' && !entity_ok(pos + 1 + idx)) {
                    return "bare & in an attribute of <" + name + ">";
                }
            }
            at = close + 1;
        }
        if (!self_closing) {
            open.push_back(name);
        }
        pos = end + 1;
    }
    return open.empty() ? "" : "<" + open.back() + "> never closed";
}

}  // namespace lookbook::testing
