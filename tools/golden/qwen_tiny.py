#!/usr/bin/env python3
"""Golden fixtures for the LibTorch Qwen2.5-VL port.

Builds a tiny random Qwen2.5-VL with transformers (versions pinned in tools/requirements.txt), saves it in
the Hugging Face layout (sharded, plus a copy re-keyed to the legacy Hub layout, plus a tied-embedding
variant), a tiny byte-level BPE tokenizer whose special tokens live inside the small vocabulary, synthetic
images/videos as PNG files, and the intermediate tensors of the reference forward/generate/backward as
safetensors. Everything runs on CPU in float32 with eager attention, seed 0.

Weights are rounded to bfloat16 values and stored as BF16 (as real checkpoints are); the reference model
is loaded back with torch_dtype=float32, so every golden is an fp32 computation.

Usage: tools/golden/qwen_tiny.py [OUT_DIR]   (default tests/fixtures/model/tiny)
"""
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import PIL
import safetensors
import tokenizers
import torch
import transformers
from PIL import Image
from safetensors.torch import load_file, save_file
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests/fixtures/model/tiny"

# Special tokens of the tiny tokenizer: ids 1000.. (the BPE part uses ids < 1000).
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
            "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]
SPECIAL_BASE = 1000
TOK = {s: SPECIAL_BASE + i for i, s in enumerate(SPECIALS)}
EOT, IM_START, IM_END = TOK["<|endoftext|>"], TOK["<|im_start|>"], TOK["<|im_end|>"]
VSTART, VEND, IMG, VID = TOK["<|vision_start|>"], TOK["<|vision_end|>"], TOK["<|image_pad|>"], TOK["<|video_pad|>"]


def make_config(tie, vocab=1024):
    text = dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2,
                rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}, rope_theta=1e6,
                rms_norm_eps=1e-6, max_position_embeddings=4096, tie_word_embeddings=tie,
                bos_token_id=EOT, eos_token_id=IM_END)
    vision = dict(depth=4, hidden_size=32, intermediate_size=48, num_heads=2, out_hidden_size=64,
                  patch_size=14, temporal_patch_size=2, spatial_merge_size=2, window_size=112,
                  fullatt_block_indexes=[1, 3], tokens_per_second=2, in_channels=3, hidden_act="silu")
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, image_token_id=IMG, video_token_id=VID,
                            vision_start_token_id=VSTART, vision_end_token_id=VEND,
                            tie_word_embeddings=tie, bos_token_id=EOT, eos_token_id=IM_END,
                            pad_token_id=EOT)


def build_model(tie, seed):
    torch.manual_seed(seed)
    cfg = make_config(tie)
    cfg._attn_implementation = "eager"
    model = Qwen2_5_VLForConditionalGeneration(cfg).eval()
    with torch.no_grad():  # larger-than-default init so that layers matter; rounded to bf16 values
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "ln_q" in name or "norm1" in name or "norm2" in name:
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.08 * torch.randn_like(p))
            p.copy_(p.to(torch.bfloat16).float())
    return model


def save_model(model, path):
    if path.exists():
        shutil.rmtree(path)
    model.to(torch.bfloat16).save_pretrained(path, safe_serialization=True, max_shard_size="200KB")
    model.float()
    cfg = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    gen = path / "generation_config.json"
    if gen.exists():
        gen.unlink()


def load_model(path):
    return Qwen2_5_VLForConditionalGeneration.from_pretrained(
        path, torch_dtype=torch.float32, attn_implementation="eager").eval()


def legacy_copy(src, dst):
    """Single-file copy with Hub (4.49) key names and a config without the nested text_config."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    tensors = {}
    index = json.loads((src / "model.safetensors.index.json").read_text())
    for shard in sorted(set(index["weight_map"].values())):
        tensors.update(load_file(src / shard))
    legacy = {}
    for k, v in tensors.items():
        if k.startswith("model.visual."):
            k = k[len("model."):]
        elif k.startswith("model.language_model."):
            k = "model." + k[len("model.language_model."):]
        legacy[k] = v.contiguous()
    save_file(legacy, dst / "model.safetensors", metadata={"format": "pt"})
    cfg = json.loads((src / "config.json").read_text())
    text = cfg.pop("text_config")
    for k in ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
              "num_key_value_heads", "rope_theta", "rms_norm_eps", "max_position_embeddings", "hidden_act",
              "sliding_window", "use_sliding_window", "max_window_layers", "attention_dropout"]:
        cfg[k] = text[k]
    cfg["rope_scaling"] = {"type": "mrope", "mrope_section": [2, 3, 3]}
    cfg["vision_config"]["in_chans"] = cfg["vision_config"].pop("in_channels")
    cfg.pop("dtype", None)
    cfg["torch_dtype"] = "bfloat16"
    (dst / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return legacy


# ------------------------------------------------------------------------------------------------
# Tokenizer: byte-level BPE trained on a small corpus, specials appended at ids 1000..1007.

CORPUS = """What is the person in the video doing? Answer with one action label.
The person is playing basketball. The man is riding a horse. A woman is cooking pasta in a kitchen.
Describe the video. Think step by step, then answer inside <answer></answer> tags.
Someone is swimming, running, jumping, dancing, climbing, reading, writing, drinking water.
Numbers 0 1 2 3 4 5 6 7 8 9 and punctuation: , . ; : ! ? ' " ( ) [ ] { } - _ / \\ @ # $ % & * +
""" * 4


def build_tokenizer(path):
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, normalizers, trainers, Regex
    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=SPECIAL_BASE, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])
    tok.train_from_iterator([CORPUS], trainer=trainer)
    assert tok.get_vocab_size() <= SPECIAL_BASE, tok.get_vocab_size()
    data = json.loads(tok.to_str())
    # Pad the BPE vocabulary to exactly SPECIAL_BASE entries is not needed; specials get fixed ids.
    data["added_tokens"] = [
        {"id": TOK[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True} for s in SPECIALS]
    data["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                              "use_regex": False}
    (path / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False) + "\n")
    (path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "Qwen2Tokenizer", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "bos_token": None, "add_bos_token": False, "errors": "replace", "model_max_length": 4096,
        "clean_up_tokenization_spaces": False, "split_special_tokens": False,
        "added_tokens_decoder": {str(TOK[s]): {"content": s, "special": True, "normalized": False,
                                               "lstrip": False, "rstrip": False, "single_word": False}
                                 for s in SPECIALS}}, indent=2) + "\n")
    return Tokenizer.from_file(str(path / "tokenizer.json"))


# ------------------------------------------------------------------------------------------------
# Synthetic media: smooth patterns (PNG compresses them) with a little structure per channel.

def synth_image(h, w, seed):
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 3 + y * 2 + seed * 37) % 256, (x * y // 7 + seed * 11) % 256,
                    (255 - (x + 5 * y) // 2 - seed * 5) % 256], axis=-1)
    return img.astype(np.uint8)


def save_png(arr, path):
    Image.fromarray(arr, "RGB").save(path, optimize=True)


def image_rows(proc, imgs):
    out = proc(images=[Image.fromarray(a) for a in imgs], return_tensors="pt")
    return out["pixel_values"], out["image_grid_thw"]


def video_rows(vproc, frames):
    out = vproc(videos=[torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)], return_tensors="pt",
                do_resize=False)
    return out["pixel_values_videos"], out["video_grid_thw"]


# ------------------------------------------------------------------------------------------------
def vision_trace(visual, pixel_values, grid):
    """Intermediates of one visual() call, via forward hooks and the module's own helpers."""
    rec = {}
    hooks = [visual.patch_embed.register_forward_hook(lambda m, i, o: rec.__setitem__("patch_embed", o.detach())),
             visual.merger.register_forward_hook(lambda m, i, o: rec.__setitem__("merger", o.detach()))]
    for j, blk in enumerate(visual.blocks):
        hooks.append(blk.register_forward_hook(
            lambda m, i, o, j=j: rec.__setitem__(f"block.{j}", o.detach())))
    with torch.no_grad():
        out = visual(pixel_values, grid_thw=grid)
        rec["rot_pos_emb"] = visual.rot_pos_emb(grid)
        wi, cuw = visual.get_window_index(grid)
        rec["window_index"] = wi.long()
        rec["cu_window_seqlens"] = torch.unique_consecutive(torch.tensor(cuw, dtype=torch.long))
        cu = torch.repeat_interleave(grid[:, 1] * grid[:, 2], grid[:, 0]).cumsum(0)
        rec["cu_seqlens"] = torch.nn.functional.pad(cu, (1, 0)).long()
    for h in hooks:
        h.remove()
    rec["output"] = out.detach()
    return rec


def chat_ids(tok, segments):
    """Chat prompt ids: system turn, one user turn made of text / ("image", n) / ("video", n) pieces."""
    ids = [IM_START] + tok.encode("system\nYou are a helpful assistant.").ids + [IM_END] + tok.encode("\n").ids
    ids += [IM_START] + tok.encode("user\n").ids
    for s in segments:
        if isinstance(s, str):
            ids += tok.encode(s).ids
        else:
            kind, n = s
            ids += [VSTART] + [IMG if kind == "image" else VID] * n + [VEND]
    ids += [IM_END] + tok.encode("\n").ids + [IM_START] + tok.encode("assistant\n").ids
    return ids


def run_case(model, name, ids_rows, images=None, videos=None, spg=None, generate=True, trace_layers=True,
             logits_rows=None, train=False, bf16_model=None,
             grad_keys=("lm_head", "q_proj", "merger_mlp0", "qkv0")):
    """Forward (+ generate, + backward) of one case; returns the tensors to store under `name.`."""
    L = max(len(r) for r in ids_rows)
    input_ids = torch.full((len(ids_rows), L), EOT, dtype=torch.long)
    mask = torch.zeros((len(ids_rows), L), dtype=torch.long)
    for b, r in enumerate(ids_rows):  # left padding
        input_ids[b, L - len(r):] = torch.tensor(r)
        mask[b, L - len(r):] = 1
    kw = {}
    out = {"input_ids": input_ids, "attention_mask": mask}
    if images:
        kw["pixel_values"], kw["image_grid_thw"] = images
        out["image_grid_thw"] = kw["image_grid_thw"]
    if videos:
        kw["pixel_values_videos"], kw["video_grid_thw"] = videos
        out["video_grid_thw"] = kw["video_grid_thw"]
        kw["second_per_grid_ts"] = torch.tensor(spg, dtype=torch.float32)
        out["second_per_grid_ts"] = kw["second_per_grid_ts"]
    pos, deltas = model.model.get_rope_index(input_ids, kw.get("image_grid_thw"), kw.get("video_grid_thw"),
                                             kw.get("second_per_grid_ts"), mask)
    out["position_ids"], out["rope_deltas"] = pos.long(), deltas.long()
    captured = {}
    h = model.model.language_model.register_forward_pre_hook(
        lambda m, a, k: captured.__setitem__("inputs_embeds", k["inputs_embeds"].detach()), with_kwargs=True)
    with torch.no_grad():
        res = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True, **kw)
    h.remove()
    out["inputs_embeds"] = captured["inputs_embeds"]
    if trace_layers:
        for i, hs in enumerate(res.hidden_states[1:], start=1):  # hidden.0 is inputs_embeds
            out[f"hidden.{i}"] = hs
    else:
        out[f"hidden.{len(res.hidden_states) - 1}"] = res.hidden_states[-1]
    logits = res.logits
    out["argmax"] = logits.argmax(-1)
    out["logits"] = logits if logits_rows is None else logits[:, -logits_rows:]
    if generate:
        g = model.generate(input_ids=input_ids, attention_mask=mask, max_new_tokens=8, min_new_tokens=8,
                           do_sample=False, use_cache=True, output_logits=True, return_dict_in_generate=True,
                           pad_token_id=EOT, eos_token_id=None, **kw)
        out["gen.tokens"] = g.sequences[:, L:]
        out["gen.logits"] = torch.stack(g.logits, dim=1)  # [B, 8, V]
    if train:
        labels = input_ids.clone()
        labels[mask == 0] = -100
        labels[:, : L // 2] = -100
        model.zero_grad()
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels, **kw).loss
        loss.backward()
        out["labels"] = labels
        out["loss"] = loss.detach().reshape(1)
        grads = {"lm_head": model.lm_head.weight,
                 "q_proj": model.model.language_model.layers[0].self_attn.q_proj.weight,
                 "merger_mlp0": model.model.visual.merger.mlp[0].weight,
                 "qkv0": model.model.visual.blocks[0].attn.qkv.weight}
        for k, p in grads.items():
            if k in grad_keys:
                out[f"grad.{k}"] = p.grad.detach().clone()
        model.zero_grad()
    if bf16_model is not None:
        kwb = {k: v for k, v in kw.items()}
        with torch.no_grad():
            lb = bf16_model(input_ids=input_ids, attention_mask=mask, **kwb).logits
        out["bf16.logits"] = lb.to(torch.bfloat16)
    return {f"{name}.{k}": v.contiguous() for k, v in out.items()}


def main():
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    media = OUT / "media"
    media.mkdir(exist_ok=True)
    tok = build_tokenizer(OUT)

    model = build_model(tie=False, seed=0)
    save_model(model, OUT / "model")
    legacy_copy(OUT / "model", OUT / "model-legacy")
    for f in ["tokenizer.json", "tokenizer_config.json"]:
        shutil.copy(OUT / f, OUT / "model" / f)
    model = load_model(OUT / "model")
    tied = build_model(tie=True, seed=1)
    save_model(tied, OUT / "model-tied")
    tied = load_model(OUT / "model-tied")

    # Media ------------------------------------------------------------------------------------------------
    sizes = {"img56x84": (56, 84), "img140x196": (140, 196), "img224x224": (224, 224),
             "img308x420": (308, 420), "img70x90": (70, 90)}
    imgs = {}
    for i, (k, (hh, ww)) in enumerate(sizes.items()):
        imgs[k] = synth_image(hh, ww, i)
        save_png(imgs[k], media / f"{k}.png")
    vid4 = [synth_image(56, 84, 10 + f) for f in range(4)]
    vid6 = [synth_image(56, 84, 20 + f) for f in range(6)]
    for f, a in enumerate(vid4):
        save_png(a, media / f"vid4_{f}.png")
    for f, a in enumerate(vid6):
        save_png(a, media / f"vid6_{f}.png")

    proc = Qwen2VLImageProcessor()  # slow processor, PIL bicubic, min/max pixels of the preprocessor_config
    vproc = Qwen2VLVideoProcessor()
    g = {}
    # Processor goldens (pixel rows only for small inputs; big images are checked through the vision tower).
    for k in ["img56x84", "img70x90"]:
        pv, grid = image_rows(proc, [imgs[k]])
        g[f"proc.{k}.pixel_values"], g[f"proc.{k}.grid_thw"] = pv, grid
    for k in ["img140x196", "img224x224", "img308x420"]:
        _, grid = image_rows(proc, [imgs[k]])
        g[f"proc.{k}.grid_thw"] = grid
    pv, grid = video_rows(vproc, vid4)
    g["proc.vid4.pixel_values"], g["proc.vid4.grid_thw"] = pv, grid
    _, g["proc.vid6.grid_thw"] = video_rows(vproc, vid6)

    # Vision tower goldens (image calls; a video call comes with the image+video case).
    visual = model.model.visual
    for k, full in [("img140x196", True), ("img224x224", True), ("img308x420", False)]:
        pv, grid = image_rows(proc, [imgs[k]])
        tr = vision_trace(visual, pv, grid)
        keep = tr.keys() if full else ["window_index", "cu_window_seqlens", "cu_seqlens", "output"]
        for n in keep:
            g[f"vis.{k}.{n}"] = tr[n]
    pv, grid = image_rows(proc, [imgs["img56x84"], imgs["img140x196"]])  # multi-item offsets
    tr = vision_trace(visual, pv, grid)
    for n in ["window_index", "cu_window_seqlens", "cu_seqlens", "rot_pos_emb", "output"]:
        g[f"vis.two.{n}"] = tr[n]
    pv, grid = video_rows(vproc, vid6)
    tr = vision_trace(visual, pv, grid)
    for n in ["window_index", "cu_window_seqlens", "cu_seqlens", "output"]:
        g[f"vis.vid6.{n}"] = tr[n]

    # Full-model cases ---------------------------------------------------------------------------------------
    bf16 = load_model(OUT / "model").to(torch.bfloat16)
    text_ids = chat_ids(tok, ["Name the action."])
    g.update(run_case(model, "text", [text_ids]))
    g.update(run_case(tied, "tied", [text_ids], generate=False, trace_layers=False, logits_rows=8))
    im = image_rows(proc, [imgs["img140x196"]])
    ids = chat_ids(tok, [("image", 35), "What is shown?"])
    g.update(run_case(model, "image", [ids], images=im, train=True, bf16_model=bf16,
                      logits_rows=16))
    two = image_rows(proc, [imgs["img56x84"], imgs["img224x224"]])
    ids = chat_ids(tok, [("image", 6), "and", ("image", 64), "differ?"])
    g.update(run_case(model, "two_images", [ids], images=two, logits_rows=8))
    im1 = image_rows(proc, [imgs["img56x84"]])
    v4 = video_rows(vproc, vid4)
    ids = chat_ids(tok, [("image", 6), "then", ("video", 12), "action?"])
    g.update(run_case(model, "image_video", [ids], images=im1, videos=v4, spg=[1.0], generate=False,
                      train=True, logits_rows=8, grad_keys=("q_proj", "merger_mlp0", "qkv0")))
    v6 = video_rows(vproc, vid6)
    for fps in [1.0, 3.0]:
        ids = chat_ids(tok, [("video", 18), "action?"])
        name = f"video_fps{int(fps)}"
        g.update(run_case(model, name, [ids], videos=v6, spg=[2.0 / fps], generate=False, trace_layers=False,
                          logits_rows=4))
    ids0 = chat_ids(tok, [("image", 6), "What is the person doing?"])
    ids1 = chat_ids(tok, ["Hi"])
    g.update(run_case(model, "batch", [ids0, ids1], images=im1, trace_layers=False, logits_rows=4))
    # The same two prompts alone (generation goldens for the batch-vs-single check come from the port itself).

    save_file({k: v.clone().contiguous() for k, v in g.items()}, OUT / "golden.safetensors",
              metadata={"generator": "tools/golden/qwen_tiny.py"})

    manifest = {
        "generator": "tools/golden/qwen_tiny.py",
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__,
                     "pillow": PIL.__version__, "numpy": np.__version__},
        "settings": {"device": "cpu", "dtype": "float32", "attn_implementation": "eager", "seed": [0, 1],
                     "threads": 1, "weights": "random N(0,0.08) (norms 1+N(0,0.1)), rounded to bf16, stored BF16",
                     "image_processor": "Qwen2VLImageProcessor (slow, PIL bicubic)",
                     "video_processor": "Qwen2VLVideoProcessor (torch, fused rescale+normalize, do_resize=False)",
                     "temporal_index_mode": "int_spg",
                     "temporal_index_note": "transformers 4.57 casts second_per_grid_t to int64 before multiplying "
                                            "(fps=3 -> spg 0.667 -> 0); fps 1 and 2 agree in both modes",
                     "generation": "greedy, 8 new tokens, use_cache=True, no eos stop; video cases forward only (§8)",
                     "loss_labels": "input_ids with the first L//2 positions and padding set to -100"},
        "special_tokens": TOK,
        "models": {"model": "untied, vocab 1024 (tokenizer 1008: padded rows), sharded 200KB, 4.57 key layout",
                   "model-legacy": "same weights, Hub 4.49 key layout, single file, flat config with in_chans",
                   "model-tied": "tie_word_embeddings=true, no lm_head key, seed 1"},
        "media": {k: list(v) for k, v in sizes.items()} | {"vid4": [4, 56, 84], "vid6": [6, 56, 84]},
        "processor_dependent": ["img70x90 (needs smart_resize + PIL bicubic resize)"],
        "cases": sorted({k.split(".")[0] + "." + k.split(".")[1] if k.startswith(("proc", "vis")) else
                         k.split(".")[0] for k in g}),
    }
    (OUT / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
