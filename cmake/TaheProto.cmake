# tahe_proto_library(NAME PROTOS a.proto b.proto DEPS other_proto_lib GRPC)
# Generates C++ (and gRPC stubs with GRPC) for protos under proto/ into the build tree, as one
# static library per proto package. Generated code is never committed.
set(TAHE_PROTO_ROOT ${PROJECT_SOURCE_DIR}/proto)
set(TAHE_PROTO_OUT ${PROJECT_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${TAHE_PROTO_OUT})
find_program(TAHE_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

function(tahe_proto_library name)
  cmake_parse_arguments(P "GRPC" "" "PROTOS;DEPS" ${ARGN})
  set(srcs)
  foreach(proto ${P_PROTOS})
    get_filename_component(abs ${proto} ABSOLUTE)
    file(RELATIVE_PATH rel ${TAHE_PROTO_ROOT} ${abs})
    string(REGEX REPLACE "\\.proto$" "" base ${rel})
    set(out ${TAHE_PROTO_OUT}/${base}.pb.cc ${TAHE_PROTO_OUT}/${base}.pb.h)
    set(args --cpp_out=${TAHE_PROTO_OUT})
    if(P_GRPC)
      list(APPEND out ${TAHE_PROTO_OUT}/${base}.grpc.pb.cc ${TAHE_PROTO_OUT}/${base}.grpc.pb.h)
      list(APPEND args --grpc_out=${TAHE_PROTO_OUT} --plugin=protoc-gen-grpc=${TAHE_GRPC_CPP_PLUGIN})
    endif()
    add_custom_command(
      OUTPUT ${out}
      COMMAND protobuf::protoc -I ${TAHE_PROTO_ROOT} ${args} ${abs}
      DEPENDS ${abs} protobuf::protoc
      COMMENT "protoc ${rel}")
    list(APPEND srcs ${out})
  endforeach()
  add_library(${name} STATIC ${srcs})
  target_include_directories(${name} PUBLIC ${TAHE_PROTO_OUT})
  target_link_libraries(${name} PUBLIC protobuf::libprotobuf ${P_DEPS})
  if(P_GRPC)
    target_link_libraries(${name} PUBLIC gRPC::grpc++)
  endif()
  target_compile_options(${name} PRIVATE -w)
endfunction()
