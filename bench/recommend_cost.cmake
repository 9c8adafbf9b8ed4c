# CPU cost of one personal-recommendation answer and of each candidate source (issue 7); with
# torch the two-tower model is in the blend, as in `lookbook serve`.
add_executable(recommend_cost ${CMAKE_CURRENT_LIST_DIR}/recommend_cost.cpp)
if(TARGET lookbook_models)
    target_link_libraries(recommend_cost PRIVATE lookbook_models)
    target_compile_definitions(recommend_cost PRIVATE LOOKBOOK_WITH_TORCH=1)
else()
    target_link_libraries(recommend_cost PRIVATE lookbook_recommend)
    target_compile_definitions(recommend_cost PRIVATE LOOKBOOK_WITH_TORCH=0)
endif()
