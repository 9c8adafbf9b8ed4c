# ALIGN model speed: align-base-sized towers (EfficientNet-B7 scaling at 289 px, BERT-base) with
# random weights on 2 threads, beside CLIP ViT-B/32 measured the same way.
if(TARGET lookbook_encoders)
    add_executable(align_bench ${CMAKE_CURRENT_LIST_DIR}/align_bench.cpp)
    target_link_libraries(align_bench PRIVATE lookbook_encoders benchmark::benchmark)
endif()
