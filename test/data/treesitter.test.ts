import { describe, expect, it } from "vitest";
import { labelFile, labelText } from "../../src/data/label.js";
import { labelTreeSitterSource, type TreeSitterLanguage } from "../../src/data/treesitter/label.js";
import { InputError } from "../../src/util/errors.js";
import { sharedData } from "./shared.js";

async function pairs(lang: TreeSitterLanguage, src: string): Promise<string[]> {
  const r = await labelTreeSitterSource(lang, src, { sentence: "file" });
  return r.sentences.flat().map((t, i) => `${t}/${r.labels.flat()[i]}`);
}

describe("tree-sitter labelers (offline wasm grammars)", () => {
  it("JavaScript", async () => {
    expect(
      await pairs(
        "javascript",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: JavaScript source text with a template literal
        'const a = {b: 0x1F, ...c}; a?.b === null; // c\nx => `t ${y}` + /re/g + "s s";',
      ),
    ).toEqual([
      "const/KEYWORD",
      "a/IDENT",
      "=/EQUAL",
      "{/LBRACE",
      "b/IDENT",
      ":/COLON",
      "0x1F/UNKNOWN",
      ",/COMMA",
      ".../ELLIPSIS",
      "c/IDENT",
      "}/RBRACE",
      ";/SEMI",
      "a/IDENT",
      "?./QUESTIONDOT",
      "b/IDENT",
      "===/EQEQEQUAL",
      "null/IDENT",
      ";/SEMI",
      "x/IDENT",
      "=>/FATARROW",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the template literal token
      "`t ${y}`/STRING",
      "+/PLUS",
      "/re/g/UNKNOWN",
      "+/PLUS",
      '"s s"/STRING',
      ";/SEMI",
    ]);
  });

  it("TypeScript", async () => {
    expect(
      await pairs("typescript", "let n: number = 1.5; function f(s?: string): void { return; }"),
    ).toEqual([
      "let/KEYWORD",
      "n/IDENT",
      ":/COLON",
      "number/TYPE",
      "=/EQUAL",
      "1.5/NUMBER",
      ";/SEMI",
      "function/KEYWORD",
      "f/IDENT",
      "(/LPAR",
      "s/IDENT",
      "?/CONDITIONOP",
      ":/COLON",
      "string/TYPE",
      ")/RPAR",
      ":/COLON",
      "void/KEYWORD",
      "{/LBRACE",
      "return/KEYWORD",
      ";/SEMI",
      "}/RBRACE",
    ]);
  });

  it("C and C++ (C through the C++ grammar)", async () => {
    expect(
      await pairs("c", "#include <stdio.h>\nunsigned long f(char *s) { return 'a' + 017 + 2.5f; }"),
    ).toEqual([
      "#include/KEYWORD",
      "<stdio.h>/STRING",
      "unsigned/TYPE",
      "long/TYPE",
      "f/IDENT",
      "(/LPAR",
      "char/TYPE",
      "*/STAR",
      "s/IDENT",
      ")/RPAR",
      "{/LBRACE",
      "return/KEYWORD",
      "'a'/UNKNOWN",
      "+/PLUS",
      "017/UNKNOWN",
      "+/PLUS",
      "2.5f/NUMBER",
      ";/SEMI",
      "}/RBRACE",
    ]);
    expect(await pairs("cpp", "std::vector<int> v{nullptr, true};")).toEqual([
      "std/IDENT",
      "::/DOUBLECOLON",
      "vector/IDENT",
      "</LESS",
      "int/TYPE",
      ">/GREATER",
      "v/IDENT",
      "{/LBRACE",
      "nullptr/IDENT",
      ",/COMMA",
      "true/BOOL",
      "}/RBRACE",
      ";/SEMI",
    ]);
  });

  it("Go", async () => {
    expect(
      await pairs(
        "go",
        "package main\nfunc f() { var x int = 3; r := 'a'; ch <- nil; y &^= 0b1; s := `a b` }",
      ),
    ).toEqual([
      "package/KEYWORD",
      "main/IDENT",
      "func/KEYWORD",
      "f/IDENT",
      "(/LPAR",
      ")/RPAR",
      "{/LBRACE",
      "var/KEYWORD",
      "x/IDENT",
      "int/TYPE",
      "=/EQUAL",
      "3/NUMBER",
      ";/SEMI",
      "r/IDENT",
      ":=/COLONEQUAL",
      "'a'/UNKNOWN",
      ";/SEMI",
      "ch/IDENT",
      "<-/LARROW",
      "nil/IDENT",
      ";/SEMI",
      "y/IDENT",
      "&^=/AMPERCIRCUMFLEXEQUAL",
      "0b1/UNKNOWN",
      ";/SEMI",
      "s/IDENT",
      ":=/COLONEQUAL",
      "`a b`/STRING",
      "}/RBRACE",
    ]);
  });

  it("Java and Python through tree-sitter as an alternative path", async () => {
    expect(await pairs("java", "@Override public int f() { return null; }")).toEqual([
      "@/AT",
      "Override/IDENT",
      "public/MODIFIER",
      "int/TYPE",
      "f/IDENT",
      "(/LPAR",
      ")/RPAR",
      "{/LBRACE",
      "return/KEYWORD",
      "null/IDENT",
      ";/SEMI",
      "}/RBRACE",
    ]);
    const py = await labelText("def f():\n    return f'{x}' + 1\n", {
      lang: "python",
      backend: "tree-sitter",
      sentence: "file",
    });
    expect(py.labels.flat()).toEqual([
      "KEYWORD",
      "IDENT",
      "LPAR",
      "RPAR",
      "COLON",
      "KEYWORD",
      "STRING",
      "PLUS",
      "NUMBER",
    ]);
  });

  it("tokens reproduce the source without its blanks (nothing dropped or invented)", async () => {
    const sources: [TreeSitterLanguage, string][] = [
      ["javascript", "function f(a,b){return a+b*2;}\nclass A extends B { m() { this.x = [1,2,3]; } }"],
      ["go", "package p\nfunc g(x int) int {\n\tif x > 0 {\n\t\treturn x\n\t}\n\treturn -x\n}\n"],
      ["cpp", "int main(){int a[3]={1,2,3};for(int i=0;i<3;++i){a[i]<<=1;}return a[0]?1:0;}"],
    ];
    for (const [lang, src] of sources) {
      const r = await labelTreeSitterSource(lang, src);
      expect(r.sentences.flat().join("")).toBe(src.replace(/\s+/g, ""));
      expect(r.labels.flat().length).toBe(r.sentences.flat().length);
      expect(r.labels.flat()).not.toContain(undefined);
    }
  });

  it("a syntax error names its line, or its lines are skipped and recorded", async () => {
    const src = "int ok() { return 1; }\nint bad( { return 2 }\n";
    await expect(labelTreeSitterSource("cpp", src, { file: "x.cc" })).rejects.toThrow(InputError);
    await expect(labelTreeSitterSource("cpp", src, { file: "x.cc" })).rejects.toThrow(
      /^x\.cc:\d+: cpp syntax error/,
    );
    const r = await labelTreeSitterSource("javascript", "let a = 1;\nlet = ;\nlet b = 2;\n", {
      skipBadLines: true,
    });
    expect(r.sentences).toEqual([
      ["let", "a", "=", "1", ";"],
      ["let", "b", "=", "2", ";"],
    ]);
    expect(r.skipped).toEqual([{ line: 2, reason: "javascript syntax error" }]);
  });

  it("labels JSON records (CoSQA) one record at a time and says which record each sentence is from", async () => {
    const r = await labelFile(sharedData("cosqa/cosqa-dev.json"), { lang: "python" });
    expect(r.records!.length).toBe(r.sentences.length);
    expect(new Set(r.records).size).toBe(604);
    expect(r.sentences[0]).toEqual(["def", "is_edge_consistent", "(", "graph", ",", "u", ",", "v", ")", ":"]);
  });
});
