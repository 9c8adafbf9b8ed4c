# Two-tower model: training time and memory on the H&M sample and a synthetic set 100 times
# larger, MAP@12 / recall@12 against popularity, and query latency.
if(TARGET lookbook_models)
    add_executable(two_tower_bench ${CMAKE_CURRENT_LIST_DIR}/two_tower_bench.cpp)
    target_link_libraries(two_tower_bench PRIVATE lookbook_models lookbook_data)
endif()
