"""What NeuroX's own loaders make of a `codeneurons export --format neurox-json` output.

Reference for test/store/neurox-export.test.ts (issue 18, item 4). The functions below follow NeuroX's
code line for line where it matters (fdalvi/NeuroX, neurox/data/loader.py: load_activations for .json
files and load_data; neurox/interpretation/utils.py: create_tensors), written here with numpy only so
that the fixture can be made without installing NeuroX (h5py, torch, imbalanced-learn):

- load_activations: one JSON object per line; per token the concatenation of its layers' values;
  np.vstack of a sentence's tokens (an empty sentence cannot be loaded: vstack of nothing fails);
  num_layers = width of a row / the first layer's width.
- load_data: source and label files read line by line with Python's text-mode iteration and
  `line.strip().split()`; the number of lines must equal the number of activation sentences; a line
  whose token count differs from its activation count is dropped ("Skipping line"), fewer than 100.
- create_tensors: all tokens of all sentences, flattened in order, X[i] = the token's activations and
  y[i] = its label.

Usage: python3 scripts/reference/neurox_load_reference.py DIR/acts.json DIR/acts.in DIR/acts.label OUT.json
Writes OUT.json: the lines NeuroX kept and dropped, the tokens and labels it read, num_layers, and X
(rounded to 6 decimals) with y as label names (NeuroX's label indices come from a set's order, which
Python randomises between runs).
"""

import json
import sys

import numpy as np


def load_activations_json(path, dtype="float32"):
    activations = []
    num_neurons_per_layer = None
    with open(path) as fp:
        for line in fp:
            token_acts = []
            sentence_activations = json.loads(line)["features"]
            for act in sentence_activations:
                num_neurons_per_layer = len(act["layers"][0]["values"])
                token_acts.append(np.concatenate([l["values"] for l in act["layers"]]))
            activations.append(np.vstack(token_acts).astype(dtype))
    num_layers = activations[0].shape[1] / num_neurons_per_layer
    return activations, int(num_layers)


def load_data(source_path, labels_path, activations, max_sent_l):
    tokens = {"source": [], "target": []}
    with open(source_path) as source_fp:
        for line in source_fp:
            line_tokens = line.strip().split()
            if len(line_tokens) > max_sent_l:
                continue
            tokens["source"].append(line_tokens)
    with open(labels_path) as labels_fp:
        for line in labels_fp:
            line_tokens = line.strip().split()
            if len(line_tokens) > max_sent_l:
                continue
            tokens["target"].append(line_tokens)
    assert len(tokens["source"]) == len(tokens["target"]), "Number of lines do not match (source: %d, target: %d)!" % (
        len(tokens["source"]),
        len(tokens["target"]),
    )
    assert len(activations) == len(tokens["source"]), "Number of lines do not match (activations: %d, source: %d)!" % (
        len(activations),
        len(tokens["source"]),
    )
    invalid = []
    for idx, activation in enumerate(activations):
        if not (
            activation.shape[0] == len(tokens["source"][idx]) and activation.shape[0] == len(tokens["target"][idx])
        ):
            invalid.append(idx)
    assert len(invalid) < 100, "Too many mismatches"
    for num_deleted, idx in enumerate(invalid):
        del activations[idx - num_deleted]
        del tokens["source"][idx - num_deleted]
        del tokens["target"][idx - num_deleted]
    return tokens, invalid


def create_tensors(tokens, activations):
    num_tokens = sum(len(t) for t in tokens["target"])
    num_neurons = activations[0].shape[1]
    X = np.zeros((num_tokens, num_neurons), dtype=activations[0].dtype)
    y = []
    idx = 0
    for instance_idx, instance in enumerate(tokens["target"]):
        for token_idx, _ in enumerate(instance):
            X[idx] = activations[instance_idx][token_idx, :]
            y.append(tokens["target"][instance_idx][token_idx])
            idx += 1
    return X, y


def main():
    acts_path, in_path, label_path, out_path = sys.argv[1:5]
    activations, num_layers = load_activations_json(acts_path)
    with open(acts_path) as fp:
        lines = [json.loads(line).get("line") for line in fp]
    tokens, dropped = load_data(in_path, label_path, activations, max_sent_l=1000)
    X, y = create_tensors(tokens, activations)
    with open(out_path, "w") as fp:
        json.dump(
            {
                "about": "NeuroX's load_activations + load_data + create_tensors on codeneurons' export "
                "(scripts/reference/neurox_load_reference.py)",
                "numLayers": num_layers,
                "sentences": len(activations),
                "dropped": dropped,
                "lines": lines,
                "source": tokens["source"],
                "target": tokens["target"],
                "shape": list(X.shape),
                "X": [[round(float(v), 6) for v in row] for row in X],
                "y": y,
            },
            fp,
            indent=1,
        )
        fp.write("\n")


if __name__ == "__main__":
    main()
