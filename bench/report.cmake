# Time to write the evaluation report on the H&M sample (target: under a minute on 2 cores).
add_executable(report_bench ${CMAKE_CURRENT_LIST_DIR}/report_bench.cpp)
target_link_libraries(report_bench PRIVATE lookbook_report lookbook_data)
target_compile_definitions(report_bench PRIVATE LOOKBOOK_SHARED_DIR="${LOOKBOOK_SHARED_DIR}")
