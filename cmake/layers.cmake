# cmake/layers.cmake: the one table of strata's layers and what each may use (docs/architecture.md draws it).
# A row lists the layers directly below it that a layer builds on; it may include the headers of those and of
# everything they reach in turn, and nothing else. strata_link_layers() links each library from this table,
# and the layering test (cmake/check_layers.cmake, run by ctest) checks every #include in src/ against it.
#
#   cli → server → {http, engine} → {model, planner, streaming, chat, constrain} → {tokenizer, jinja, arch}
#       → kernels → {tensor, io, hw} → gguf → core
#
# Within a brace a layer may lean on a neighbour when the table says so (streaming reads through model's
# weight sources; hw measures disks with io's readers, as the streamer reads them); the table stays acyclic.
set(STRATA_LAYERS core gguf io tensor hw kernels tokenizer jinja arch model planner streaming chat constrain
    engine http server cli)

set(STRATA_LAYER_USES_core "")
set(STRATA_LAYER_USES_gguf core)
set(STRATA_LAYER_USES_io core)
set(STRATA_LAYER_USES_tensor gguf)
set(STRATA_LAYER_USES_hw io core)
set(STRATA_LAYER_USES_kernels tensor hw)
set(STRATA_LAYER_USES_tokenizer gguf)
set(STRATA_LAYER_USES_jinja core)
set(STRATA_LAYER_USES_arch kernels)
set(STRATA_LAYER_USES_model arch kernels)
set(STRATA_LAYER_USES_planner arch hw)
set(STRATA_LAYER_USES_streaming model io)
set(STRATA_LAYER_USES_chat jinja tokenizer)
set(STRATA_LAYER_USES_constrain tokenizer)
set(STRATA_LAYER_USES_engine streaming planner model constrain tokenizer)
set(STRATA_LAYER_USES_http core)
set(STRATA_LAYER_USES_server engine http chat constrain)
set(STRATA_LAYER_USES_cli server engine planner)

# The library of each layer (cli's is strata_cli_lib: the strata executable is made from it).
function(strata_layer_target layer out)
  if(layer STREQUAL "cli")
    set(${out} strata_cli_lib PARENT_SCOPE)
  else()
    set(${out} strata_${layer} PARENT_SCOPE)
  endif()
endfunction()

# Every layer `layer` may use: its row, and theirs, down to core.
function(strata_layer_closure layer out)
  set(seen "")
  set(todo ${STRATA_LAYER_USES_${layer}})
  while(todo)
    list(POP_FRONT todo l)
    if(NOT l IN_LIST seen)
      list(APPEND seen ${l})
      list(APPEND todo ${STRATA_LAYER_USES_${l}})
    endif()
  endwhile()
  set(${out} ${seen} PARENT_SCOPE)
endfunction()

# Links a layer's library to the libraries of its row (PUBLIC: the headers of the layers below are part
# of its interface).
function(strata_link_layers layer)
  strata_layer_target(${layer} self)
  foreach(dep ${STRATA_LAYER_USES_${layer}})
    strata_layer_target(${dep} dep_target)
    target_link_libraries(${self} PUBLIC ${dep_target})
  endforeach()
endfunction()
