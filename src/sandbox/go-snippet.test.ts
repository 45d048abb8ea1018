// Go snippets become programs; whole programs are left alone. (A snippet run for real:
// the README's batch example in test/sdk/package.test.ts.)
import { describe, expect, it } from 'vitest';
import { completeGoProgram } from './go-snippet.js';

describe('completeGoProgram', () => {
  it('wraps statements in package main and func main, importing the standard packages they name', () => {
    expect(completeGoProgram('fmt.Println("Job 3")')).toBe('package main\n\nimport (\n\t"fmt"\n)\n\nfunc main() {\nfmt.Println("Job 3")\n}\n');
    const p = completeGoProgram('b, _ := json.Marshal(map[string]int{"a": 1})\nfmt.Println(strings.ToUpper(string(b)), time.Second)');
    expect(p).toContain('\t"encoding/json"\n');
    expect(p).toContain('\t"strings"\n');
    expect(p).toContain('\t"time"\n');
  });

  it('imports nothing for names inside strings or comments, and keeps a declared func main at the top level', () => {
    expect(completeGoProgram('println("os.Exit")\n// fmt.Println')).toBe('package main\n\nfunc main() {\nprintln("os.Exit")\n// fmt.Println\n}\n');
    expect(completeGoProgram('func main() {\n\tfmt.Println(1)\n}')).toBe('package main\n\nimport (\n\t"fmt"\n)\n\nfunc main() {\n\tfmt.Println(1)\n}\n');
  });

  it('leaves a program with a package clause as it is', () => {
    const program = '// hello\npackage main\n\nfunc main() { fmt.Println(1) }';
    expect(completeGoProgram(program)).toBe(program);
  });
});
