# Included by engine/CMakeLists.txt after daub_tokenizer exists: compiles the
# CLIP merge list (gzip) and its licence notice into daub_tokenizer as byte
# arrays, generated at build time by embed.cmake, and links zlib, which
# decompresses the list at run time (tokenizer/clip_builtin.cpp).
set(daub_clip_data_dir ${CMAKE_CURRENT_LIST_DIR})
cmake_path(GET daub_clip_data_dir PARENT_PATH daub_tokenizer_dir)
set(daub_clip_data_cpp ${CMAKE_CURRENT_BINARY_DIR}/clip_data.cpp)
add_custom_command(
  OUTPUT ${daub_clip_data_cpp}
  COMMAND ${CMAKE_COMMAND} -DMERGES=${daub_clip_data_dir}/clip_merges.txt.gz
          -DLICENSE=${daub_clip_data_dir}/LICENSE-CLIP -DOUT=${daub_clip_data_cpp}
          -P ${daub_clip_data_dir}/embed.cmake
  DEPENDS ${daub_clip_data_dir}/clip_merges.txt.gz ${daub_clip_data_dir}/LICENSE-CLIP
          ${daub_clip_data_dir}/embed.cmake
  COMMENT "Embedding the CLIP merge list"
  VERBATIM)
# Plain data and plain C++: no libtorch precompiled header (loading it costs
# seconds per file).
set_source_files_properties(${daub_clip_data_cpp} ${daub_tokenizer_dir}/clip_builtin.cpp
                            ${daub_tokenizer_dir}/inflate.cpp PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
target_sources(daub_tokenizer PRIVATE ${daub_clip_data_cpp})
find_package(ZLIB REQUIRED)
target_link_libraries(daub_tokenizer PUBLIC ZLIB::ZLIB)
