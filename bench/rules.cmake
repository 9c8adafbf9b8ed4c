# FP-Growth: whole-process time and memory on the FIMI files, checked against an Eclat count.
add_executable(rules_bench ${CMAKE_CURRENT_LIST_DIR}/rules_bench.cpp)
target_link_libraries(rules_bench PRIVATE lookbook_rules)
target_compile_definitions(rules_bench PRIVATE LOOKBOOK_SHARED_DIR="${LOOKBOOK_SHARED_DIR}")

# Offline evaluation of "complete the look" on the H&M sample (hit rate, MRR, two baselines).
add_executable(rules_eval ${CMAKE_CURRENT_LIST_DIR}/rules_eval.cpp)
target_link_libraries(rules_eval PRIVATE lookbook_rules lookbook_data)
target_compile_definitions(rules_eval PRIVATE LOOKBOOK_SHARED_DIR="${LOOKBOOK_SHARED_DIR}")
