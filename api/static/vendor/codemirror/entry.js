// What the scene editor (api/static/studio/editor*.js) takes from CodeMirror 6, bundled into one
// ES module by esbuild (see README.txt). Every package once, so the state/view instances agree.
export { basicSetup } from "codemirror";
export { EditorView, keymap } from "@codemirror/view";
export { EditorState, Annotation, Compartment, Transaction } from "@codemirror/state";
export { yaml } from "@codemirror/lang-yaml";
export { syntaxTree } from "@codemirror/language";
export { linter, lintGutter, setDiagnostics, forEachDiagnostic } from "@codemirror/lint";
export { autocompletion, completeFromList, startCompletion } from "@codemirror/autocomplete";
export { history, undo, redo, undoDepth, redoDepth, isolateHistory } from "@codemirror/commands";
