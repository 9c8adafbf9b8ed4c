#include "lookbook/util/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace lookbook::log {

void init_logging(Level level) {
    auto logger = spdlog::stderr_color_mt("lookbook");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ %v");
    spdlog::set_default_logger(logger);
    switch (level) {
        case Level::kTrace:
            spdlog::set_level(spdlog::level::trace);
            break;
        case Level::kDebug:
            spdlog::set_level(spdlog::level::debug);
            break;
        case Level::kInfo:
            spdlog::set_level(spdlog::level::info);
            break;
        case Level::kWarn:
            spdlog::set_level(spdlog::level::warn);
            break;
        case Level::kError:
            spdlog::set_level(spdlog::level::err);
            break;
        case Level::kOff:
            spdlog::set_level(spdlog::level::off);
            break;
    }
}

bool parse_level(const std::string& text, Level* level) {
    static const std::pair<const char*, Level> kLevels[] = {
        {"trace", Level::kTrace},
        {"debug", Level::kDebug},
        {"info", Level::kInfo},
        {"warn", Level::kWarn},
        {"error", Level::kError},
        {"off", Level::kOff},
    };
    for (const auto& [name, value] : kLevels) {
        if (text == name) {
            *level = value;
            return true;
        }
    }
    return false;
}

}  // namespace lookbook::log
