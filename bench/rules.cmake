# FP-Growth: whole-process time and memory on the FIMI files, checked against an Eclat count.
add_executable(rules_bench ${CMAKE_CURRENT_LIST_DIR}/rules_bench.cpp)
target_link_libraries(rules_bench PRIVATE lookbook_rules)
target_compile_definitions(rules_bench PRIVATE LOOKBOOK_SHARED_DIR="${LOOKBOOK_SHARED_DIR}")
