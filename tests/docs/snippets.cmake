# Every C++ block of README.md and docs/*.md becomes a test program, so the guides cannot drift
# from the API. The info string after the opening fence says how a block is built
# (docs/writing-docs.md):
#   ```cpp            a whole program: compiled as written, run, must exit 0
#   ```cpp fragment   declarations: compiled inside a wrapper that adds <lazynn/lazynn.hpp>,
#                     <iostream>, `using namespace lazynn;` before and an empty main() after
#   ```cpp no-run     a whole program that needs what CI lacks (a data set): compiled, not run
#   ```cpp mpi        a whole program using lazynn::distributed: compiled, run as 2 MPI ranks
# Blocks are extracted at configure time into the build tree; editing a guide re-runs CMake.

set(LAZYNN_DOC_SOURCES ${PROJECT_SOURCE_DIR}/README.md)
file(GLOB LAZYNN_DOC_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*.md)
list(APPEND LAZYNN_DOC_SOURCES ${LAZYNN_DOC_PAGES})
set(LAZYNN_SNIPPET_DIR ${CMAKE_CURRENT_BINARY_DIR}/doc_snippets)
file(MAKE_DIRECTORY ${LAZYNN_SNIPPET_DIR})

# Reads `markdown` and appends "<name>|<kind>" for each C++ block to `out_var`, writing each
# block to LAZYNN_SNIPPET_DIR/<name>.cpp (wrapped for fragments).
function(lazynn_extract_snippets markdown out_var)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${markdown})
  get_filename_component(page ${markdown} NAME_WE)
  string(MAKE_C_IDENTIFIER "${page}" page)
  string(TOLOWER "${page}" page)
  file(READ ${markdown} text)
  # CMake lists split on ';' and treat '[' ']' specially: protect them, then split on newlines.
  string(REPLACE ";" "@LAZYNN_SEMI@" text "${text}")
  string(REPLACE "[" "@LAZYNN_LB@" text "${text}")
  string(REPLACE "]" "@LAZYNN_RB@" text "${text}")
  string(REPLACE "\\" "@LAZYNN_BS@" text "${text}")
  string(REPLACE "\n" ";" lines "${text}")
  set(found ${${out_var}})
  set(in_block FALSE)
  set(index 0)
  set(line_number 0)
  foreach(line IN LISTS lines)
    math(EXPR line_number "${line_number} + 1")
    if(NOT in_block)
      if(line MATCHES "^```cpp( +([a-z-]+))? *$")
        set(kind "${CMAKE_MATCH_2}")
        if(kind STREQUAL "")
          set(kind "program")
        endif()
        if(NOT kind MATCHES "^(program|fragment|no-run|mpi)$")
          message(FATAL_ERROR "${markdown}:${line_number}: unknown C++ block kind '${kind}' "
                              "(use cpp, cpp fragment, cpp no-run or cpp mpi; see docs/writing-docs.md)")
        endif()
        math(EXPR index "${index} + 1")
        set(name "${page}_${index}")
        set(body "// extracted from ${markdown}, the block starting at line ${line_number}\n")
        if(kind STREQUAL "fragment")
          string(APPEND body "#include <lazynn/lazynn.hpp>\n#include <iostream>\nusing namespace lazynn;\n")
        endif()
        math(EXPR first_code_line "${line_number} + 1")
        string(APPEND body "#line ${first_code_line} \"${markdown}\"\n")
        set(in_block TRUE)
      endif()
    elseif(line MATCHES "^```")
      if(kind STREQUAL "fragment")
        string(APPEND body "int main() { return 0; }\n")
      endif()
      string(REPLACE "@LAZYNN_SEMI@" ";" body "${body}")
      string(REPLACE "@LAZYNN_LB@" "[" body "${body}")
      string(REPLACE "@LAZYNN_RB@" "]" body "${body}")
      string(REPLACE "@LAZYNN_BS@" "\\" body "${body}")
      # Written through a copy that only touches the file when the block changed, so configuring
      # again does not rebuild every snippet.
      file(WRITE ${LAZYNN_SNIPPET_DIR}/${name}.cpp.new "${body}")
      configure_file(${LAZYNN_SNIPPET_DIR}/${name}.cpp.new ${LAZYNN_SNIPPET_DIR}/${name}.cpp COPYONLY)
      list(APPEND found "${name}|${kind}")
      set(in_block FALSE)
    else()
      string(APPEND body "${line}\n")
    endif()
  endforeach()
  if(in_block)
    message(FATAL_ERROR "${markdown}: a ```cpp block is not closed")
  endif()
  set(${out_var} ${found} PARENT_SCOPE)
endfunction()

set(LAZYNN_SNIPPETS "")
foreach(markdown ${LAZYNN_DOC_SOURCES})
  lazynn_extract_snippets(${markdown} LAZYNN_SNIPPETS)
endforeach()

foreach(entry ${LAZYNN_SNIPPETS})
  string(REPLACE "|" ";" parts "${entry}")
  list(GET parts 0 name)
  list(GET parts 1 kind)
  set(target docsnippet_${name})
  if(kind STREQUAL "mpi" AND NOT TARGET lazynn_distributed)
    continue()   # no MPI in this build: nothing to link the block against
  endif()
  add_executable(${target} ${LAZYNN_SNIPPET_DIR}/${name}.cpp)
  if(LAZYNN_SANITIZER)
    lazynn_configure_target(${target})   # the instrumented library needs instrumented programs
  else()
    # A user's flags, not the project's: none of lazynn's warning suppressions, so a block that
    # warns in a user's -O3 -Werror build fails here too.
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic $<$<BOOL:${LAZYNN_WERROR}>:-Werror>
                                             $<$<CONFIG:Release>:-O3>)
  endif()
  if(kind STREQUAL "mpi")
    target_link_libraries(${target} PRIVATE lazynn::distributed)
    add_test(NAME ${target} COMMAND ${LAZYNN_MPIEXEC} -np 2 --oversubscribe $<TARGET_FILE:${target}>)
    set_tests_properties(${target} PROPERTIES ENVIRONMENT "${LAZYNN_MPI_ENV}" TIMEOUT 120)
  else()
    target_link_libraries(${target} PRIVATE lazynn::lazynn)
    if(NOT kind STREQUAL "no-run")
      add_test(NAME ${target} COMMAND ${target})
      set_tests_properties(${target} PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1;LAZYNN_LOG_LEVEL=warn"
                                               WORKING_DIRECTORY ${LAZYNN_SNIPPET_DIR})
    endif()
  endif()
endforeach()
