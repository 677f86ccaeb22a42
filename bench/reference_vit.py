"""The PyTorch Vision Transformer the reference scripts share (docs/method.md#networks; the
reference's vision_transformer.py and heads, timm's names): the transformer block, the SERE
backbone with its SERE heads, the iBOT head. Used by bench/eager_step.py and
bench/eager_finetune_step.py, the eager PyTorch yardsticks of `npm run bench`, and by
test/fixtures/train/generate.py and test/fixtures/finetune/generate.py, which write the step
fixtures.

`reference_init` picks the initialisation: the reference's (truncated normal tokens and Linear
weights, zero biases and masked_embed, unit weight_g), or, for the training fixtures, N(0, 0.02)
tokens and masked_embed (non-zero, so that it matters) with PyTorch's default layer
initialisation. Either way the parameters are drawn in the order they are created: changing
that order changes the fixtures and the bench's losses.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def trunc_normal_(t, std=0.02):
    with torch.no_grad():
        return t.normal_(0, std).clamp_(-2, 2)


def init_linear_(module):
    """The reference's Linear initialisation: truncated normal weights, zero biases."""
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class DropPath(nn.Module):
    """Stochastic depth: the whole residual branch of a sample dropped with probability `rate`."""

    def __init__(self, rate):
        super().__init__()
        self.rate = rate

    def forward(self, x):
        if not self.training or self.rate == 0:
            return x
        keep = 1 - self.rate
        mask = (keep + torch.rand(x.shape[0], 1, 1, dtype=x.dtype, device=x.device)).floor_()
        return x / keep * mask


class PatchEmbed(nn.Module):
    """The patches' linear embedding, a convolution with stride patch_size."""

    def __init__(self, patch_size, embed_dim):
        super().__init__()
        self.proj = nn.Conv2d(3, embed_dim, patch_size, patch_size)

    def forward(self, images):
        return self.proj(images).flatten(2).transpose(1, 2)


class Attention(nn.Module):
    def __init__(self, dim, num_heads, scale_queries=False):
        super().__init__()
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        # BEiT's modeling_finetune.py scales q before q k^T, vision_transformer.py the product:
        # the same math, rounded differently.
        self.scale_queries = scale_queries
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        if self.scale_queries:
            a = ((q * self.scale) @ k.transpose(-2, -1)).softmax(-1)
        else:
            a = ((q @ k.transpose(-2, -1)) * self.scale).softmax(-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, t, c))


class Mlp(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, num_heads, drop_path=0.0, scale_queries=False):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, scale_queries)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x):
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class SereHead(nn.Module):
    """Projection (BN, ReLU) and predictor (1x1 conv, BN, ReLU); relations of both (docs/method.md#sere-heads)."""

    def __init__(self, dim, num_heads, channel):
        super().__init__()
        self.num_heads, self.channel = num_heads, channel
        self.projection = nn.Sequential(nn.BatchNorm2d(dim), nn.ReLU())
        self.predictor = nn.Sequential(nn.Conv2d(dim, dim, 1, bias=False), nn.BatchNorm2d(dim), nn.ReLU())

    def relation(self, m):
        b, c = m.shape[:2]
        x = m.reshape(b, c, -1)
        n = x.shape[-1]
        if self.channel:  # (x / sqrt(N)) (x / sqrt(N))^T
            x = x / math.sqrt(n)
            return x @ x.transpose(1, 2)
        g = x.reshape(b, self.num_heads, c // self.num_heads, n).transpose(2, 3)  # x x^T d^-0.5 per head
        return (g @ g.transpose(2, 3)) * (c // self.num_heads) ** -0.5

    def forward(self, tokens):
        b, n, c = tokens.shape
        side = int(math.sqrt(n))
        m = tokens.transpose(1, 2).reshape(b, c, side, side).float()
        # BatchNorm and the relations in float32; the 1x1 conv follows autocast.
        z = self.projection(m)
        p = self.predictor[2](self.predictor[1](self.predictor[0](z).float()))
        with torch.autocast(m.device.type, enabled=False):
            return self.relation(z), self.relation(p)


class VisionTransformer(nn.Module):
    """The pretraining backbone: patch tokens (masked ones replaced by masked_embed) and the CLS
    token through the blocks; the SERE heads (local ones for local views) on the patch tokens."""

    def __init__(self, img_size, patch_size, embed_dim, depth, num_heads, drop_path_rate=0.0, masked=False,
                 local_heads=False, reference_init=True):
        super().__init__()
        n0 = img_size // patch_size

        def token(*shape):
            return trunc_normal_(torch.zeros(*shape)) if reference_init else torch.randn(*shape) * 0.02

        self.cls_token = nn.Parameter(token(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(token(1, 1 + n0 * n0, embed_dim))
        if masked:
            self.masked_embed = nn.Parameter(torch.zeros(1, embed_dim) if reference_init else token(1, embed_dim))
        self.patch_embed = PatchEmbed(patch_size, embed_dim)
        rates = [drop_path_rate * i / max(1, depth - 1) for i in range(depth)]  # rising linearly to drop_path_rate
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, r) for r in rates])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)
        self.channel_sere = SereHead(embed_dim, num_heads, True)
        self.pixel_sere = SereHead(embed_dim, num_heads, False)
        if local_heads:
            self.channel_sere_local = SereHead(embed_dim, num_heads, True)
            self.pixel_sere_local = SereHead(embed_dim, num_heads, False)
        if reference_init:
            for m in self.modules():
                init_linear_(m)

    def pos(self, n):
        """pos_embed for an n x n patch grid: bicubically resized for views of another size."""
        n0 = int(math.sqrt(self.pos_embed.shape[1] - 1))
        if n == n0:
            return self.pos_embed
        d = self.pos_embed.shape[2]
        grid = self.pos_embed[:, 1:].reshape(1, n0, n0, d).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, scale_factor=((n + 0.1) / n0, (n + 0.1) / n0), mode="bicubic")
        return torch.cat([self.pos_embed[:, :1], grid.permute(0, 2, 3, 1).reshape(1, n * n, d)], 1)

    def forward(self, images, mask=None, local=False):
        x = self.patch_embed.proj(images)
        if mask is not None:  # masked patch embeddings become masked_embed
            x = torch.where(mask.unsqueeze(1), self.masked_embed.to(x.dtype).reshape(1, -1, 1, 1), x)
        n = x.shape[-1]
        x = x.flatten(2).transpose(1, 2).float()  # the token stream in float32, as under CUDA autocast
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos(n)
        for blk in self.blocks:
            x = blk(x)
        patches = x[:, 1:]
        channel = (self.channel_sere_local if local else self.channel_sere)(patches)
        spatial = (self.pixel_sere_local if local else self.pixel_sere)(patches)
        return self.norm(x), channel, spatial


class IBOTHead(nn.Module):
    """The MLP to the bottleneck, L2-normalised, then the weight-normalised last layers: last_layer
    for the CLS token, last_layer2 for the patch tokens (the same layer with a shared head)."""

    def __init__(self, in_dim, out_dim, hidden_dim, bottleneck_dim, shared_head=True, norm_last_layer=False,
                 reference_init=True):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, hidden_dim), nn.GELU(),
                                 nn.Linear(hidden_dim, bottleneck_dim))
        if reference_init:  # before the last layers are drawn
            for m in self.mlp:
                init_linear_(m)
        self.last_layer = self.weight_normed(bottleneck_dim, out_dim, norm_last_layer, reference_init)
        if shared_head:
            self.last_layer2 = self.last_layer
        else:
            self.last_layer2 = self.weight_normed(bottleneck_dim, out_dim, norm_last_layer, reference_init)

    @staticmethod
    def weight_normed(inp, out, freeze_norm, reference_init):
        layer = nn.utils.weight_norm(nn.Linear(inp, out, bias=False))
        if reference_init:
            layer.weight_g.data.fill_(1)
        layer.weight_g.requires_grad = not freeze_norm
        return layer

    def forward(self, tokens):
        z = F.normalize(self.mlp(tokens), dim=-1)
        # The logits in float32 under autocast too, as sere-torch computes them
        # (docs/method.md#mixed-precision); the reference's run in the autocast dtype.
        with torch.autocast(tokens.device.type, enabled=False):
            z = z.float()
            return self.last_layer(z[:, 0]), self.last_layer2(z[:, 1:])


class Network(nn.Module):
    """A backbone and its head under the reference's names (backbone.*, head.*)."""

    def __init__(self, backbone, head):
        super().__init__()
        self.backbone = backbone
        self.head = head
