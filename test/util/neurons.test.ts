import { describe, expect, it } from "vitest";
import { InputError } from "../../src/util/errors.js";
import {
  checkSite,
  layerName,
  neuronId,
  neuronIdsOfLayers,
  neuronLayer,
  neuronName,
  neuronSpace,
  neuronUnit,
  parseNeuronName,
  recordedSite,
  siteLayers,
  siteOfName,
} from "../../src/util/neurons.js";

const hidden = neuronSpace("hidden", 8);
const mlp = neuronSpace("mlp", 32);

describe("neuron spaces", () => {
  it("numbers the hidden site as before (a bare width is the hidden site) and the MLP site by its width", () => {
    expect(neuronId(5, 3, hidden)).toBe(43);
    expect(neuronId(5, 3, 8)).toBe(43);
    expect(neuronName(43, 8)).toBe("L5:3");
    expect(neuronName(43, hidden)).toBe("L5:3");
    expect(neuronId(2, 5, mlp)).toBe(69);
    expect(neuronName(69, mlp)).toBe("L2.mlp:5");
    expect([neuronLayer(69, mlp), neuronUnit(69, mlp)]).toEqual([2, 5]);
    expect(neuronIdsOfLayers([1, 3], neuronSpace("mlp", 2))).toEqual([2, 3, 6, 7]);
    expect(layerName(4, "hidden")).toBe("L4");
    expect(layerName(4, "mlp")).toBe("L4.mlp");
    expect(siteLayers("hidden", [0, 1, 2])).toEqual([0, 1, 2]);
    expect(siteLayers("mlp", [0, 1, 2])).toEqual([1, 2]);
    expect(() => neuronSpace("mlp", 0)).toThrow(/>= 1/);
  });

  it("parses names of both sites, round trip", () => {
    for (const space of [hidden, mlp]) {
      for (const id of [0, 7, 43, 95]) expect(parseNeuronName(neuronName(id, space), space)).toBe(id);
    }
    expect(parseNeuronName(" L2.mlp:5 ", mlp)).toBe(69);
    expect(siteOfName("L12:17")).toBe("hidden");
    expect(siteOfName("L12.mlp:3071")).toBe("mlp");
  });

  it("refuses a name of the other site, a unit past the width, an unknown site and garbage, saying which", () => {
    expect(() => parseNeuronName("L2.mlp:5", hidden)).toThrow(
      /L2\.mlp:5 is on the mlp site .*this analysis is on the hidden site; use --site mlp/,
    );
    expect(() => parseNeuronName("L2:5", mlp)).toThrow(/L2:5 is on the hidden site .* use --site hidden/);
    expect(() => parseNeuronName("L1.mlp:999", mlp)).toThrow(
      /L1\.mlp:999: unit 999 is out of range: the mlp site has 32 neurons per layer/,
    );
    expect(() => parseNeuronName("L1:8", hidden)).toThrow(/unit 8 is out of range/);
    expect(() => parseNeuronName("L1.attn:3", mlp)).toThrow(/unknown site 'attn'/);
    expect(() => parseNeuronName("L1.hidden:3", hidden)).toThrow(/unknown site 'hidden'/);
    expect(() => parseNeuronName("5:3", hidden)).toThrow(/not a neuron name/);
  });

  it("reads a file's site (absent: hidden) and refuses a mismatch naming the file and field", () => {
    expect(recordedSite(undefined, "f.json")).toBe("hidden");
    expect(recordedSite("mlp", "f.json")).toBe("mlp");
    expect(() => recordedSite("ffn", "f.json", "probe.site")).toThrow(/f\.json \(field 'probe\.site'\)/);
    expect(() => checkSite("mlp", "mlp", "p.json")).not.toThrow();
    let error: unknown;
    try {
      checkSite("mlp", "hidden", "out/probe.json", "site");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).message).toMatch(
      /^out\/probe\.json \(field 'site'\): holds mlp-site neurons .*L\{layer\}\.mlp:\{unit\}.* on the hidden site; give --site mlp/,
    );
  });
});
