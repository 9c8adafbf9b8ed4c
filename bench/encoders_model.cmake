# CLIP model speed: ViT-B/32-sized towers with random weights, 2 threads.
if(TARGET lookbook_encoders)
    add_executable(encoders_model_bench ${CMAKE_CURRENT_LIST_DIR}/encoders_model_bench.cpp)
    target_link_libraries(encoders_model_bench PRIVATE lookbook_encoders benchmark::benchmark)
endif()
