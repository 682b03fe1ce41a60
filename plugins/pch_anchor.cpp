// Compiles plugins/torch_pch.hpp once; plugins reuse it (REUSE_FROM sluice_torch_pch).
