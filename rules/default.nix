# The alert rules rendered by Nix, with thresholds changed: what rules/render.py does, in builtins
# only (no nixpkgs needed), for the NixOS module.
#
#   rules = import ./rules { values = { cpu_usage_percent = 80; reboot_required_for = "48h"; }; };
#   services.prometheus.ruleFiles = builtins.attrValues rules.files;
#
# `values` may hold any parameter of params.json (strings, or integers for numbers); an unknown
# name or a value that is not of its parameter's kind stops evaluation with a message naming it.
# With the defaults, `texts` equals the committed rules/*.yml byte for byte (a test checks it).
{
  values ? { },
}:
let
  params = builtins.fromJSON (builtins.readFile ./params.json);
  names = builtins.attrNames params;

  # Whole-value patterns (POSIX ERE), as render.py's KINDS.
  kinds = {
    duration = "(0|([0-9]+(ms|s|m|h|d|w|y))+)";
    number = "[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?";
    label_name = "[a-zA-Z_][a-zA-Z0-9_]*";
    # Goes inside a double-quoted PromQL string: no quote, backslash or newline.
    regex = "[^\"\\\n]*";
  };

  unknown = builtins.filter (n: !(params ? ${n})) (builtins.attrNames values);

  value =
    n:
    let
      p = params.${n};
      v = toString (values.${n} or p.default);
    in
    if builtins.match kinds.${p.kind} v == null then
      throw "nixmon rules: parameter ${n}: \"${v}\" is not a ${p.kind} (${p.description})"
    else
      v;

  templates = builtins.filter (f: builtins.match ".*\\.yml\\.in" f != null) (
    builtins.attrNames (builtins.readDir ./templates)
  );
  outName = t: builtins.head (builtins.match "(.*)\\.in" t);

  header = t: ''
    # Generated from rules/templates/${t} by rules/render.py with the defaults of
    # rules/params.json. Edit the template, then run rules/render.py.
  '';
  render =
    t:
    header t
    + builtins.replaceStrings (map (n: "@${n}@") names) (map value names) (
      builtins.readFile (./templates + "/${t}")
    );

  texts = builtins.listToAttrs (
    map (t: {
      name = outName t;
      value = render t;
    }) templates
  );
in
if unknown != [ ] then
  throw "nixmon rules: unknown parameter(s) ${builtins.concatStringsSep ", " unknown} (rules/params.json lists them)"
else
  {
    inherit params texts;
    files = builtins.mapAttrs (name: text: builtins.toFile name text) texts;
  }
