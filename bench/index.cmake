# Vector index: build time, memory, queries/s, latency and recall on synthetic clustered vectors.
add_executable(index_bench ${CMAKE_CURRENT_LIST_DIR}/index_bench.cpp)
target_link_libraries(index_bench PRIVATE lookbook_index CLI11::CLI11 fmt::fmt)
# faiss (Debian's libfaiss-dev, static, OpenMP) is measured beside hnswlib when present; the
# library itself does not use it.
find_package(OpenMP QUIET)
if(OpenMP_CXX_FOUND)
    find_package(faiss QUIET)
endif()
if(TARGET faiss)
    target_link_libraries(index_bench PRIVATE faiss OpenMP::OpenMP_CXX)
    target_compile_definitions(index_bench PRIVATE LOOKBOOK_BENCH_FAISS=1)
endif()

# Quality of similar-article and text search on a store with embeddings (needs the encoders).
if(LOOKBOOK_WITH_TORCH)
    add_executable(index_eval ${CMAKE_CURRENT_LIST_DIR}/index_eval.cpp)
    target_link_libraries(index_eval PRIVATE lookbook_index lookbook_encoders CLI11::CLI11)
endif()

# Incremental update of the saved similar-items index against a full rebuild.
add_executable(index_update_bench ${CMAKE_CURRENT_LIST_DIR}/index_update_bench.cpp)
target_link_libraries(index_update_bench PRIVATE lookbook_index lookbook_data CLI11::CLI11)
