// Go snippets: a program without a `package` clause (e.g. `fmt.Println("Job 3")`, as the SDK's
// README sends) is completed into one that compiles — `package main`, imports of the standard
// packages it names, and, unless it declares `func main`, its statements as main's body. A
// whole program is left as it is. Host-side, before the request reaches the sandbox.

/** Standard packages a snippet may name without importing them: the name it uses → the import path. */
const STD_PACKAGES: Record<string, string> = {
  fmt: 'fmt',
  os: 'os',
  strings: 'strings',
  strconv: 'strconv',
  math: 'math',
  time: 'time',
  sort: 'sort',
  errors: 'errors',
  bufio: 'bufio',
  bytes: 'bytes',
  io: 'io',
  sync: 'sync',
  regexp: 'regexp',
  json: 'encoding/json',
  rand: 'math/rand',
  http: 'net/http',
  filepath: 'path/filepath',
  unicode: 'unicode',
};

const PACKAGE_CLAUSE = /^\s*package\s+[A-Za-z_]\w*/m;
const MAIN_FUNC = /^func\s+main\s*\(\s*\)/m;

/** The code as a Go program: unchanged when it has a package clause. */
export function completeGoProgram(code: string): string {
  if (PACKAGE_CLAUSE.test(code)) return code;
  // Names used as `name.` outside string literals and comments.
  const bare = code.replace(/`[^`]*`|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, '""');
  const imports = Object.entries(STD_PACKAGES)
    .filter(([name]) => new RegExp(`(?<![\\w.])${name}\\.[A-Za-z_]`).test(bare))
    .map(([, path]) => `\t"${path}"\n`)
    .join('');
  const head = `package main\n\n${imports ? `import (\n${imports})\n\n` : ''}`;
  return MAIN_FUNC.test(bare) ? `${head}${code}\n` : `${head}func main() {\n${code}\n}\n`;
}
