# The same addon as CMakeLists.txt, for `npx node-gyp rebuild`. Sources and LibTorch
# flags come from scripts/libtorch.mjs, the one place that decides them.
{
  "targets": [
    {
      "target_name": "sere_torch",
      "sources": ["<!@(node scripts/libtorch.mjs gyp sources)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native",
        "<!@(node scripts/libtorch.mjs gyp include_dirs)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "SERE_BUILD_SYSTEM=\"node-gyp\"",
        "SERE_TORCH_DIR=\"<!(node scripts/libtorch.mjs gyp torch_dir)\"",
        "SERE_WITH_CUDA=<!(node scripts/libtorch.mjs gyp cuda)"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wall", "-Wno-unused-parameter", "<!@(node scripts/libtorch.mjs gyp cflags)"],
      "libraries": ["<!@(node scripts/libtorch.mjs gyp libraries)"]
    }
  ]
}
