# Retrieval evaluation of a CLIP model folder on a store against a TF-IDF/colour-histogram
# baseline (recall@k, precision@10 of the product type).
if(TARGET lookbook_encoders)
    add_executable(encoder_eval ${CMAKE_CURRENT_LIST_DIR}/encoder_eval.cpp)
    target_link_libraries(encoder_eval PRIVATE lookbook_encoders)
endif()
