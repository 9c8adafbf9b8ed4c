# Personal recommendations: MovieLens 100K recall of ALS and item-to-item, and training cost
# and latency on the H&M sample and a synthetic set 100 times larger.
add_executable(movielens_eval ${CMAKE_CURRENT_LIST_DIR}/movielens_eval.cpp)
target_link_libraries(movielens_eval PRIVATE lookbook_recommend)
target_compile_definitions(movielens_eval PRIVATE LOOKBOOK_SHARED_DIR="${LOOKBOOK_SHARED_DIR}")

add_executable(recommend_bench ${CMAKE_CURRENT_LIST_DIR}/recommend_bench.cpp)
target_link_libraries(recommend_bench PRIVATE lookbook_recommend lookbook_data)
target_compile_definitions(recommend_bench PRIVATE LOOKBOOK_SHARED_DIR="${LOOKBOOK_SHARED_DIR}")
