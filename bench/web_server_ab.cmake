# HTTP library A/B (issue 7): the same two routes served by cpp-httplib and by Boost.Beast,
# driven by bench/web_server_ab.sh. Beast is header-only; without Boost the target is skipped
# and nothing else in the build needs it.
find_package(Boost 1.74 CONFIG QUIET)
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
    pkg_check_modules(LOOKBOOK_AB_HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
endif()
if(Boost_FOUND AND LOOKBOOK_AB_HTTPLIB_FOUND)
    add_executable(web_server_ab ${CMAKE_CURRENT_LIST_DIR}/web_server_ab.cpp)
    target_link_libraries(web_server_ab PRIVATE
        Boost::headers PkgConfig::LOOKBOOK_AB_HTTPLIB nlohmann_json::nlohmann_json fmt::fmt
        Threads::Threads)
else()
    message(STATUS "web_server_ab skipped: needs Boost 1.74 headers (libboost-dev) and cpp-httplib")
endif()
