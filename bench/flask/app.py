"""The PyTorch tutorial's Flask server ("Deploying PyTorch in Python via a
REST API with Flask"), kept as the tutorial writes it, as the benchmark peer
of the Worker. Differences, all forced by this workplace:

- The model is DenseNet-121 with the project's seeded random weights (no
  pretrained weights can be downloaded here): torchvision's densenet121 with
  its state_dict filled from the same ONNX file the Worker serves, so both
  answer the same classes.
- If torch/torchvision are not installed (BENCH_BACKEND=onnxruntime, or auto
  with no torch), the same ONNX graph runs on onnxruntime, and the tutorial's
  transforms are done with PIL + numpy exactly as torchvision does them. The
  benchmark then says so loudly: it is not the tutorial's PyTorch server.

    DENSENET_ONNX=model/build/densenet121-random.onnx gunicorn -w 1 -b 127.0.0.1:8000 app:app
"""
import io
import json
import os
import sys

import numpy as np
from flask import Flask, jsonify, request
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ONNX_PATH = os.environ.get("DENSENET_ONNX", os.path.join(ROOT, "model/build/densenet121-random.onnx"))
BACKEND = os.environ.get("BENCH_BACKEND", "auto")
# One thread per core this process may run on: pinned to one core by
# bench/worker/bench.sh (taskset), so per-core figures are per core.
THREADS = int(os.environ.get("BENCH_THREADS", len(os.sched_getaffinity(0))))

app = Flask(__name__)
imagenet_class_index = json.load(open(os.path.join(ROOT, "model/imagenet_class_index.json")))


def onnx_weights(path):
    import onnx
    from onnx import numpy_helper
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}


def torch_densenet_from_onnx(path):
    """torchvision's densenet121 with the ONNX file's weights. The ONNX graph
    is torch's export, where norm0 and every dense layer's norm2 are folded
    into the conv before them (a conv bias): those BatchNorms become
    conv-bias-adding identities (weight 1, mean 0, var 1 - eps, bias b)."""
    import torch
    from torchvision import models

    model = models.densenet121(weights=None)
    w = onnx_weights(path)
    eps = 1e-5
    new = {}
    for key, value in model.state_dict().items():
        prefix, _, field = key.rpartition(".")
        if key in w:
            new[key] = torch.from_numpy(w[key].copy())
        elif field == "num_batches_tracked":
            new[key] = value
        elif prefix == "features.norm0" or prefix.endswith(".norm2"):
            conv = "features.conv0" if prefix == "features.norm0" else prefix[: -len("norm2")] + "conv1"
            b = w[conv + ".bias"]
            new[key] = torch.from_numpy({
                "weight": np.ones_like(b),
                "bias": b.copy(),
                "running_mean": np.zeros_like(b),
                "running_var": np.full_like(b, 1.0 - eps),
            }[field])
        else:
            raise KeyError(f"{key} is not in {path}")
    model.load_state_dict(new)
    return model


def pick_backend():
    if BACKEND in ("auto", "torch"):
        try:
            import torch  # noqa: F401
            import torchvision  # noqa: F401
            return "torch"
        except ImportError:
            if BACKEND == "torch":
                raise
    return "onnxruntime"


backend = pick_backend()
if backend == "torch":
    import torch
    import torchvision.transforms as transforms

    torch.set_num_threads(THREADS)
    # The tutorial: model = models.densenet121(pretrained=True); model.eval()
    model = torch_densenet_from_onnx(ONNX_PATH)
    model.eval()

    def transform_image(image_bytes):
        my_transforms = transforms.Compose([transforms.Resize(255),
                                            transforms.CenterCrop(224),
                                            transforms.ToTensor(),
                                            transforms.Normalize(
                                                [0.485, 0.456, 0.406],
                                                [0.229, 0.224, 0.225])])
        image = Image.open(io.BytesIO(image_bytes))
        return my_transforms(image).unsqueeze(0)

    def get_prediction(image_bytes):
        tensor = transform_image(image_bytes=image_bytes)
        outputs = model.forward(tensor)
        _, y_hat = outputs.max(1)
        predicted_idx = str(y_hat.item())
        return imagenet_class_index[predicted_idx]
else:
    import onnxruntime as ort

    print("*** bench/flask: torch/torchvision NOT installed: serving the same ONNX graph with onnxruntime, "
          "NOT the tutorial's PyTorch eager model ***", file=sys.stderr)
    sys.path.insert(0, os.path.join(ROOT, "model"))
    from make_references import center_crop, resize, to_input  # torchvision's arithmetic, in PIL/numpy

    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    session = ort.InferenceSession(ONNX_PATH, options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name

    def transform_image(image_bytes):
        image = Image.open(io.BytesIO(image_bytes))
        return to_input(center_crop(resize(image, 255), 224))

    def get_prediction(image_bytes):
        tensor = transform_image(image_bytes=image_bytes)
        outputs = session.run(None, {input_name: tensor})[0]
        predicted_idx = str(int(outputs.argmax(1)[0]))
        return imagenet_class_index[predicted_idx]


@app.route('/predict', methods=['POST'])
def predict():
    if request.method == 'POST':
        file = request.files['file']
        img_bytes = file.read()
        class_id, class_name = get_prediction(image_bytes=img_bytes)
        return jsonify({'class_id': class_id, 'class_name': class_name})


@app.route('/backend')
def which_backend():
    return jsonify({'backend': backend, 'threads': THREADS, 'model': os.path.basename(ONNX_PATH)})
