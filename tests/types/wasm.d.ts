// What an app bundled by esbuild declares once for its import of the .wasm
// file (the file loader makes the import the file's URL).
declare module "*.wasm" {
  const url: string;
  export default url;
}
