#pragma once
// Plain option structs for the networks of docs/method.md#networks, filled from validated JS options.
#include <cstdint>

namespace sere::model {

struct BackboneConfig {
  int64_t embed_dim = 384;
  int64_t depth = 12;
  int64_t num_heads = 6;
  double mlp_ratio = 4.0;
  int64_t patch_size = 16;
  bool conv_stem = false;  // patch_embed: a convolutional stem instead of one P x P convolution
  int64_t img_size = 224;  // the resolution pos_embed is built for
  double drop_path_rate = 0.0;
  bool masked_im_modeling = false;  // student only: adds `masked_embed`
  bool local_heads = true;          // `channel_sere_local` / `pixel_sere_local` for local views
  bool sere_heads = true;           // the SERE heads at all (a classifier for fine-tuning has none)
};

struct HeadConfig {
  int64_t out_dim = 8192;
  int64_t patch_out_dim = 8192;
  int64_t hidden_dim = 2048;
  int64_t bottleneck_dim = 256;
  bool norm_last_layer = true;  // freezes last_layer.weight_g
  bool shared_head = true;      // patch tokens use last_layer too (else `last_layer2`)
};

struct NetworkConfig {
  BackboneConfig backbone;
  bool with_head = true;
  HeadConfig head;
};

}  // namespace sere::model
