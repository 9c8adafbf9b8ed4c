# Encoder input benchmarks: CLIP tokenization and JPEG decode + CLIP preprocessing throughput.
if(TARGET lookbook_encoders)
    add_executable(encoders_input_bench ${CMAKE_CURRENT_LIST_DIR}/encoders_input_bench.cpp)
    target_link_libraries(encoders_input_bench PRIVATE lookbook_encoders benchmark::benchmark)
    target_compile_definitions(encoders_input_bench PRIVATE
        LOOKBOOK_SHARED_DIR="${LOOKBOOK_SHARED_DIR}")
endif()
