# Vector index: build time, memory, queries/s, latency and recall on synthetic clustered vectors.
add_executable(index_bench ${CMAKE_CURRENT_LIST_DIR}/index_bench.cpp)
target_link_libraries(index_bench PRIVATE lookbook_index CLI11::CLI11)

# Quality of similar-article and text search on a store with embeddings (needs the encoders).
if(LOOKBOOK_WITH_TORCH)
    add_executable(index_eval ${CMAKE_CURRENT_LIST_DIR}/index_eval.cpp)
    target_link_libraries(index_eval PRIVATE lookbook_index lookbook_encoders CLI11::CLI11)
endif()
