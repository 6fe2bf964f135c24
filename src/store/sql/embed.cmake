# embed.cmake — a backend's migrations, one SQL file each
# (src/store/sql/<backend>/NNNN_name.sql, NNNN = the schema version the file
# brings the database to), turned into a C source at build time:
#
#   cmake -DDIR=<dir of .sql> -DOUT=<file.c> -DHEADER=<include> \
#         -DSYMBOL=<array name> -DLATEST=<macro> -P embed.cmake
#
# writes `const char *const SYMBOL[LATEST]`, element i the exact bytes of the
# file of version i + 1 (a NUL added), and a static assert that there are
# LATEST files. Versions must run 1, 2, ... without a gap. CMake only: the
# release build needs no other tool. OUT is rewritten only when it changes.
cmake_minimum_required(VERSION 3.21)
foreach(var DIR OUT HEADER SYMBOL LATEST)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed.cmake: -D${var}=... missing")
  endif()
endforeach()

file(GLOB files "${DIR}/*.sql")
list(SORT files)
set(arrays "")
set(names "")
set(n 0)
foreach(f IN LISTS files)
  math(EXPR n "${n} + 1")
  get_filename_component(base "${f}" NAME)
  if(NOT base MATCHES "^([0-9][0-9][0-9][0-9])_[a-z0-9_]+\\.sql$")
    message(FATAL_ERROR "embed.cmake: ${f}: not named NNNN_name.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}" OUTPUT_FORMAT DECIMAL)
  if(NOT version EQUAL n)
    message(FATAL_ERROR "embed.cmake: ${f}: version ${version}, expected ${n} (no gaps)")
  endif()
  file(READ "${f}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # 16 bytes a line, so the generated file stays readable.
  string(REPEAT "0x..," 16 line)
  string(REGEX REPLACE "(${line})" "\\1\n    " bytes "${bytes}")
  string(APPEND arrays "/* ${base} */\nstatic const unsigned char m${n}[] = {\n    ${bytes}0x00};\n\n")
  string(APPEND names "    (const char *)m${n},\n")
endforeach()

get_filename_component(backend "${DIR}" NAME)
set(c "/* Generated from the files of src/store/sql/${backend} by src/store/sql/embed.cmake: do not edit. */
#include \"${HEADER}\"

${arrays}const char *const ${SYMBOL}[${LATEST}] = {
${names}};
_Static_assert(${n} == ${LATEST}, \"one migration file per schema version\");
")
file(WRITE "${OUT}.tmp" "${c}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUT}.tmp" "${OUT}")
file(REMOVE "${OUT}.tmp")
