#pragma once

#include <string>
#include <utility>

#include <spdlog/spdlog.h>

// Logging for library code: one line per event on stderr, with a level. The application sets
// the level and sinks once (init_logging); libraries only call the functions below.
namespace lookbook::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kOff };

// Sets up the process-wide logger on stderr. Call once from main().
void init_logging(Level level);

// Parses "trace", "debug", "info", "warn", "error" or "off"; false for anything else.
bool parse_level(const std::string& text, Level* level);

template <typename... Args>
void trace(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    spdlog::trace(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void debug(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    spdlog::debug(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void info(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    spdlog::info(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    spdlog::warn(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void error(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    spdlog::error(fmt, std::forward<Args>(args)...);
}

}  // namespace lookbook::log
