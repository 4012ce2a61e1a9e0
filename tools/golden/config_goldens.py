#!/usr/bin/env python3
"""Golden config.json files for lib/model/config: a tiny Qwen2.5-VL config (transformers Qwen2_5_VLConfig) built in
code and saved by the pinned transformers (4.57: top level + nested text_config, layer_types,
rope_scaling with rope_type/type default), plus the values transformers itself reads back from it.

Writes tests/fixtures/model/config/{tiny_tied,tiny_untied}.config.json, expected.json and manifest.json.
  ~/.local/share/vstar/venv/bin/python tools/golden/config_goldens.py
"""
import json
import pathlib
import platform
import tempfile

import transformers
from transformers import Qwen2_5_VLConfig

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "model" / "config"


def tiny(tied):
    return Qwen2_5_VLConfig(
        text_config=dict(vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2,
                         rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}, rope_theta=1e6,
                         rms_norm_eps=1e-6, max_position_embeddings=4096, tie_word_embeddings=tied),
        vision_config=dict(depth=4, hidden_size=32, intermediate_size=48, num_heads=2, out_hidden_size=64,
                           patch_size=14, temporal_patch_size=2, spatial_merge_size=2, window_size=112,
                           fullatt_block_indexes=[1, 3], tokens_per_second=2, in_channels=3),
        image_token_id=1001, video_token_id=1002, vision_start_token_id=1000, vision_end_token_id=1003,
        tie_word_embeddings=tied)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    expected = {}
    for name, tied in (("tiny_tied", True), ("tiny_untied", False)):
        with tempfile.TemporaryDirectory() as d:
            tiny(tied).save_pretrained(d)
            text = (pathlib.Path(d) / "config.json").read_text()
        (OUT / f"{name}.config.json").write_text(text)
        c = Qwen2_5_VLConfig.from_dict(json.loads(text))
        t, v = c.text_config, c.vision_config
        expected[name] = {
            "vocab_size": t.vocab_size, "hidden_size": t.hidden_size, "intermediate_size": t.intermediate_size,
            "num_hidden_layers": t.num_hidden_layers, "num_attention_heads": t.num_attention_heads,
            "num_key_value_heads": t.num_key_value_heads, "rms_norm_eps": t.rms_norm_eps,
            "rope_theta": t.rope_theta, "mrope_section": t.rope_scaling["mrope_section"],
            "max_position_embeddings": t.max_position_embeddings,
            "tie_word_embeddings": c.tie_word_embeddings,
            "image_token_id": c.image_token_id, "video_token_id": c.video_token_id,
            "vision_start_token_id": c.vision_start_token_id, "vision_end_token_id": c.vision_end_token_id,
            "vision": {"depth": v.depth, "hidden_size": v.hidden_size, "intermediate_size": v.intermediate_size,
                       "num_heads": v.num_heads, "in_channels": v.in_channels, "patch_size": v.patch_size,
                       "spatial_merge_size": v.spatial_merge_size, "temporal_patch_size": v.temporal_patch_size,
                       "window_size": v.window_size, "fullatt_block_indexes": v.fullatt_block_indexes,
                       "out_hidden_size": v.out_hidden_size, "tokens_per_second": v.tokens_per_second},
        }
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    (OUT / "manifest.json").write_text(json.dumps({
        "script": "tools/golden/config_goldens.py", "python": platform.python_version(),
        "transformers": transformers.__version__}, indent=2) + "\n")


if __name__ == "__main__":
    main()
