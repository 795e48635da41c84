/**
 * Label names shared by the labelers. The paper's scheme (docs/DESIGN.md, "Token tagging task"): word
 * classes MODIFIER, TYPE, KEYWORD, IDENT, NUMBER, STRING, BOOL; operators and separators by their text,
 * named like the constants of Python's `token` module; UNKNOWN for everything else.
 */
export const MODIFIER = "MODIFIER";
export const TYPE = "TYPE";
export const KEYWORD = "KEYWORD";
export const IDENT = "IDENT";
export const NUMBER = "NUMBER";
export const STRING = "STRING";
export const BOOL = "BOOL";
export const UNKNOWN = "UNKNOWN";

/** The six classes of the paper's probing task. */
export const SIX_CLASSES: readonly string[] = [MODIFIER, IDENT, KEYWORD, TYPE, NUMBER, STRING];

/** Classes with a small closed vocabulary: their word lists are kept disjoint across splits. */
export const CLOSED_CLASSES: readonly string[] = [KEYWORD, MODIFIER, TYPE];

/**
 * Operator and separator names. The entries up to `**=` / `:=` are the paper authors' table
 * (including their misspelling PLUSEUQAL for `+=`); the rest extend it in the same style for operators
 * of other languages and for Java's unsigned shifts:
 * `>>>` UNSIGNEDRIGHTSHIFT and `>>>=` UNSIGNEDRIGHTSHIFTEQUAL (not in Python's token module).
 */
export const OPERATOR_LABELS: Readonly<Record<string, string>> = {
  "(": "LPAR",
  ")": "RPAR",
  "[": "LSQB",
  "]": "RSQB",
  "{": "LBRACE",
  "}": "RBRACE",
  ",": "COMMA",
  ";": "SEMI",
  ".": "DOT",
  ":": "COLON",
  "?": "CONDITIONOP",
  "=": "EQUAL",
  "+": "PLUS",
  "-": "MINUS",
  "*": "STAR",
  "/": "SLASH",
  "%": "PERCENT",
  "|": "VBAR",
  "&": "AMPER",
  "^": "CIRCUMFLEX",
  "~": "TILDE",
  "!": "NOT",
  "<": "LESS",
  ">": "GREATER",
  "==": "EQEQUAL",
  "!=": "NOTEQUAL",
  "<=": "LESSEQUAL",
  ">=": "GREATEREQUAL",
  "&&": "AND",
  "||": "OR",
  "++": "DOUBLEPLUS",
  "--": "DOUBLEMINUS",
  "<<": "LEFTSHIFT",
  ">>": "RIGHTSHIFT",
  "**": "DOUBLESTAR",
  "+=": "PLUSEUQAL",
  "-=": "MINEQUAL",
  "*=": "STAREQUAL",
  "/=": "SLASHEQUAL",
  "%=": "PERCENTEQUAL",
  "&=": "AMPEREQUAL",
  "|=": "VBAREQUAL",
  "^=": "CIRCUMFLEXEQUAL",
  "<<=": "LEFTSHIFTEQUAL",
  ">>=": "RIGHTSHIFTEQUAL",
  "**=": "DOUBLESTAREQUAL",
  "//": "DOUBLESLASH",
  "//=": "DOUBLESLASHEQUAL",
  "@": "AT",
  "@=": "ATEQUAL",
  "->": "RARROW",
  "...": "ELLIPSIS",
  "::": "DOUBLECOLON",
  ":=": "COLONEQUAL",
  // Extensions (same naming style).
  ">>>": "UNSIGNEDRIGHTSHIFT",
  ">>>=": "UNSIGNEDRIGHTSHIFTEQUAL",
  "===": "EQEQEQUAL",
  "!==": "NOTEQEQUAL",
  "=>": "FATARROW",
  "?.": "QUESTIONDOT",
  "??": "DOUBLEQUESTION",
  "??=": "DOUBLEQUESTIONEQUAL",
  "&&=": "ANDEQUAL",
  "||=": "OREQUAL",
  "&^": "AMPERCIRCUMFLEX",
  "&^=": "AMPERCIRCUMFLEXEQUAL",
  "<-": "LARROW",
  "#": "HASH",
  "##": "DOUBLEHASH",
  "->*": "RARROWSTAR",
  ".*": "DOTSTAR",
  "<=>": "SPACESHIP",
  $: "DOLLAR",
};

/** The label of an operator or separator, or UNKNOWN. */
export function operatorLabel(text: string): string {
  return Object.hasOwn(OPERATOR_LABELS, text) ? OPERATOR_LABELS[text] : UNKNOWN;
}
