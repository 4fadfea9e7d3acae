#!/usr/bin/env python3
"""Exports torchvision's pretrained DenseNet-121 (IMAGENET1K_V1) to ONNX.

The real-weights path. torch and torchvision are NOT in model/requirements.txt
(the PyPI wheel pulls in gigabytes of CUDA libraries); install them by hand in
the venv first:

    $VENV_DIR/bin/pip install torch torchvision
    # (PyTorch's own CPU-only wheel index gives much smaller wheels.)

The weights are downloaded by torchvision (into $TORCH_HOME, default
~/.cache/torch). Writes model/build/densenet121-imagenet.onnx and
model/manifests/densenet121-imagenet.json.

Exit codes: 0 exported; 3 torch/torchvision missing or the weights could not
be downloaded (the random-weight model stays in use); other: a real failure.
"""
import argparse
import hashlib
import inspect
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_random_densenet import write_manifest  # noqa: E402

NAME = "densenet121-imagenet"


def give_up(why):
    bar = "!" * 78
    print(f"{bar}\nexport_torchvision: {why}\n"
          "NO PRETRAINED MODEL: the random-weight DenseNet-121 (densenet121-random.onnx) is used instead;\n"
          "its predictions are meaningless.\n"
          "To get the real one: install torch and torchvision in the venv (see this script's docstring)\n"
          f"on a machine that can download the torchvision weights, then run it again.\n{bar}", file=sys.stderr)
    sys.exit(3)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(HERE, "build", f"{NAME}.onnx"))
    ap.add_argument("--opset", type=int, default=13)
    args = ap.parse_args()

    try:
        import torch
        import torchvision
    except ImportError as e:
        give_up(f"torch/torchvision are not installed ({e}).")

    try:
        weights = torchvision.models.DenseNet121_Weights.IMAGENET1K_V1
        model = torchvision.models.densenet121(weights=weights)
    except Exception as e:  # URLError, HTTPError, hash mismatch, ...: all mean no weights
        give_up(f"downloading the IMAGENET1K_V1 weights failed: {type(e).__name__}: {e}")
    model.eval()

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    dummy = torch.zeros(1, 3, 224, 224)
    # Eval mode + constant folding: torch folds norm0 into conv0 and each dense
    # layer's norm2 into its conv1 (the graph make_random_densenet.py copies).
    # The TorchScript exporter: torch >= 2.9 defaults to the dynamo one, whose graph differs.
    extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(model, dummy, args.out, opset_version=args.opset, do_constant_folding=True,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, **extra)

    import onnx
    onnx.checker.check_model(onnx.load(args.out), full_check=True)
    with open(args.out, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    print(f"{args.out}: {len(data)} bytes sha256 {digest} (torch {torch.__version__}, torchvision {torchvision.__version__})")
    write_manifest(os.path.join(HERE, "manifests", f"{NAME}.json"), NAME, os.path.basename(args.out),
                   digest, len(data), "pretrained", None, args.opset)


if __name__ == "__main__":
    main()
