# bpf_object(NAME SOURCE [INCLUDES dir...]): BPF C -> NAME.bpf.o -> NAME.skel.h,
# the libbpf-bootstrap way.
#
#   clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -mcpu=v3 -Wall -I<SOURCE's dir>
#     SOURCE -> ${CMAKE_CURRENT_BINARY_DIR}/NAME.bpf.o   (header deps via -MD)
#   bpftool gen skeleton NAME.bpf.o name NAME_bpf -> ${CMAKE_CURRENT_BINARY_DIR}/NAME.skel.h
#
# Defines the INTERFACE library NAME_skel (include dir with NAME.skel.h,
# links libbpf, libelf, zlib), whose property TDPW_BPF_OBJECT is the .bpf.o
# path, and sets NAME_BPF_OBJECT to that path in the caller's scope.
# The skeleton's struct is NAME_bpf (NAME_bpf__open_and_load(), ...).
include_guard(GLOBAL)

find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBBPF REQUIRED IMPORTED_TARGET libbpf)
find_program(TDPW_BPF_CLANG NAMES clang-14 clang REQUIRED)
find_program(TDPW_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)
find_library(TDPW_LIBELF elf REQUIRED)
find_library(TDPW_LIBZ z REQUIRED)

function(bpf_object NAME SOURCE)
  cmake_parse_arguments(ARG "" "" "INCLUDES" ${ARGN})
  get_filename_component(src ${SOURCE} ABSOLUTE)
  get_filename_component(src_dir ${src} DIRECTORY)
  set(obj ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.bpf.o)
  set(skel ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.skel.h)
  set(dep ${CMAKE_CURRENT_BINARY_DIR}/${NAME}.bpf.d)

  set(includes -I${src_dir})
  foreach(dir IN LISTS ARG_INCLUDES LIBBPF_INCLUDE_DIRS)
    list(APPEND includes -I${dir})
  endforeach()
  set(werror)
  if(TDPW_WERROR)
    set(werror -Werror)
  endif()

  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${TDPW_BPF_CLANG} -g -O2 -target bpf -D__TARGET_ARCH_x86 -mcpu=v3 -Wall ${werror}
            ${includes} -MD -MF ${dep} -c ${src} -o ${obj}
    DEPENDS ${src}
    DEPFILE ${dep}
    COMMENT "BPF ${NAME}.bpf.o"
    VERBATIM)
  add_custom_command(
    OUTPUT ${skel}
    COMMAND sh -c "\"$1\" gen skeleton \"$2\" name \"$3\" > \"$4.tmp\" && mv \"$4.tmp\" \"$4\""
            sh ${TDPW_BPFTOOL} ${obj} ${NAME}_bpf ${skel}
    DEPENDS ${obj}
    COMMENT "BPF skeleton ${NAME}.skel.h"
    VERBATIM)
  add_custom_target(${NAME}_skel_gen DEPENDS ${obj} ${skel})

  add_library(${NAME}_skel INTERFACE)
  add_dependencies(${NAME}_skel ${NAME}_skel_gen)
  # SYSTEM: the generated skeleton is C, full of casts our C++ warnings reject.
  target_include_directories(${NAME}_skel SYSTEM INTERFACE ${CMAKE_CURRENT_BINARY_DIR})
  target_link_libraries(${NAME}_skel INTERFACE PkgConfig::LIBBPF ${TDPW_LIBELF} ${TDPW_LIBZ})
  set_target_properties(${NAME}_skel PROPERTIES TDPW_BPF_OBJECT ${obj})
  set(${NAME}_BPF_OBJECT ${obj} PARENT_SCOPE)
endfunction()
