#pragma once

// Typed access to the JSON config files of model folders (config.json,
// preprocessor_config.json, tokenizer_config.json), shared by the CLIP and ALIGN readers so that
// every message has the same form: `config.json: "vision_config.patch_size" is "8"; expected
// an integer`.

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lookbook/util/file.hpp"
#include "lookbook/util/status.hpp"

namespace lookbook {

// Field access for one JSON object with the file name and the object's path for messages, so
// that every error reads `config.json: "vision_config.patch_size" is "8"; expected ...`.
class JsonFields {
  public:
    using json = nlohmann::json;

    JsonFields(const json& object, std::string file, std::string prefix)
        : object_(object), file_(std::move(file)), prefix_(std::move(prefix)) {}

    std::string where(const std::string& key) const {
        return file_ + ": \"" + prefix_ + key + "\"";
    }

    const json* find(const std::string& key) const {
        auto it = object_.find(key);
        return it == object_.end() || it->is_null() ? nullptr : &*it;
    }

    Result<int64_t> integer(const std::string& key, int64_t fallback) const {
        return typed<int64_t>(key, fallback, &json::is_number_integer, "an integer");
    }
    Result<double> number(const std::string& key, double fallback) const {
        return typed<double>(key, fallback, &json::is_number, "a number");
    }
    Result<bool> boolean(const std::string& key, bool fallback) const {
        return typed<bool>(key, fallback, &json::is_boolean, "true or false");
    }

    // OpenCLIP writes sizes as 224 or [224, 224]; lookbook builds square inputs only.
    Result<int64_t> square_size(const std::string& key, int64_t fallback) const {
        const json* value = find(key);
        if (value != nullptr && value->is_array() && value->size() == 2 &&
            (*value)[0].is_number_integer() && (*value)[0] == (*value)[1]) {
            return (*value)[0].get<int64_t>();
        }
        if (value != nullptr && value->is_array()) {
            return Status::unsupported(where(key) + " is " + value->dump() +
                                       "; lookbook supports square sizes only");
        }
        return integer(key, fallback);
    }

    Result<std::array<float, 3>> triple(const std::string& key,
                                        const std::array<float, 3>& fallback) const {
        const json* value = find(key);
        if (value == nullptr) {
            return fallback;
        }
        std::array<float, 3> out{};
        if (!value->is_array() || value->size() != 3) {
            return Status::invalid_data(where(key) + " is " + value->dump() +
                                        "; expected three numbers (R, G, B)");
        }
        for (size_t channel = 0; channel < 3; ++channel) {
            if (!(*value)[channel].is_number()) {
                return Status::invalid_data(where(key) + " is " + value->dump() +
                                            "; expected three numbers (R, G, B)");
            }
            out[channel] = (*value)[channel].get<float>();
        }
        return out;
    }

    Result<std::string> text(const std::string& key, const std::string& fallback) const {
        return typed<std::string>(key, fallback, &json::is_string, "a string");
    }

    // A list of integers (ALIGN's per-stage kernel sizes, strides, ...); `fallback` when absent.
    Result<std::vector<int64_t>> integers(const std::string& key,
                                          const std::vector<int64_t>& fallback) const {
        const json* value = find(key);
        if (value == nullptr) {
            return fallback;
        }
        std::vector<int64_t> out;
        bool ok = value->is_array();
        for (size_t i = 0; ok && i < value->size(); ++i) {
            ok = (*value)[i].is_number_integer();
            out.push_back(ok ? (*value)[i].get<int64_t>() : 0);
        }
        if (!ok) {
            return Status::invalid_data(where(key) + " is " + value->dump() +
                                        "; expected a list of integers");
        }
        return out;
    }

    // Fails when `key` is set to anything but null/false: a feature lookbook does not build.
    Status reject(const std::string& key, const std::string& what) const {
        const json* value = find(key);
        if (value != nullptr && !(value->is_boolean() && !value->get<bool>())) {
            return Status::unsupported(where(key) + " is " + value->dump() + "; " + what +
                                       " is not supported by lookbook yet");
        }
        return Status::ok();
    }

    Result<JsonFields> object(const std::string& key) const {
        const json* value = find(key);
        if (value == nullptr || !value->is_object()) {
            return Status::invalid_data(where(key) + " is missing or not an object");
        }
        return JsonFields(*value, file_, prefix_ + key + ".");
    }

  private:
    // `fallback` when the key is absent or null, the value when `is_type` accepts it.
    template <typename T>
    Result<T> typed(const std::string& key,
                    T fallback,
                    bool (json::*is_type)() const noexcept,
                    const char* expected) const {
        const json* value = find(key);
        if (value == nullptr) {
            return fallback;
        }
        if (!(value->*is_type)()) {
            return Status::invalid_data(where(key) + " is " + value->dump() + "; expected " +
                                        expected);
        }
        return value->get<T>();
    }

    const json& object_;
    std::string file_;
    std::string prefix_;
};

// Reads `path` as one JSON object. kNotFound/kIOError as read_file, kInvalidData (naming the
// file) for bad JSON or another JSON type.
inline Result<nlohmann::json> read_json_object(const std::filesystem::path& path) {
    LOOKBOOK_ASSIGN_OR_RETURN(std::string text, read_file(path));
    nlohmann::json parsed;
    try {
        parsed = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        return Status::invalid_data(path.string() + ": not valid JSON (" + e.what() + ")");
    }
    if (!parsed.is_object()) {
        return Status::invalid_data(path.string() + ": expected a JSON object, found a " +
                                    std::string(parsed.type_name()));
    }
    return parsed;
}

}  // namespace lookbook
