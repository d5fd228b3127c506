// The CDK peer of benchmarks/incremental_bench.py: one stack of the resources
// benchmarks/peers/cdk_export.py exported from mlinfra's IR (the file named by
// $MLINFRA_CDK_RESOURCES), each a CfnResource with its references as CDK tokens, so that
// `cdk synth` constructs, resolves and writes the same resources `mlinfra render` does.
const fs = require("fs");
const cdk = require("aws-cdk-lib");

const exported = JSON.parse(fs.readFileSync(process.env.MLINFRA_CDK_RESOURCES, "utf8"));
// CloudFormation takes 500 resources per stack, and CDK refuses more by default; the same
// resources as one Pulumi program means one stack, so the limit is lifted (0: none).
const app = new cdk.App({ context: { "@aws-cdk/core:stackResourceLimit": 0 } });
const stack = new cdk.Stack(app, exported.stack);
const parameters = new Map();
const byId = new Map();

function parameter(name) {
  if (!parameters.has(name)) {
    parameters.set(name, new cdk.CfnParameter(stack, `Call${name.replace(/[^A-Za-z0-9]/g, "")}`));
  }
  return parameters.get(name).valueAsString;
}

function value(v) {
  if (Array.isArray(v)) return v.map(value);
  if (v === null || typeof v !== "object") return v;
  if ("__getatt__" in v) return cdk.Fn.getAtt(v.__getatt__[0], v.__getatt__[1]).toString();
  if ("__join__" in v) return cdk.Fn.join("", v.__join__.map((p) => `${value(p)}`));
  if ("__json__" in v) return stack.toJsonString(value(v.__json__));
  if ("__param__" in v) return parameter(v.__param__);
  const out = {};
  for (const [key, item] of Object.entries(v)) out[key] = value(item);
  return out;
}

for (const r of exported.resources) {
  const resource = new cdk.CfnResource(stack, r.id, { type: r.type, properties: value(r.properties) });
  resource.overrideLogicalId(r.id);
  byId.set(r.id, resource);
}
for (const r of exported.resources) {
  for (const dep of r.dependsOn) byId.get(r.id).addResourceDependency(byId.get(dep));
}
app.synth();
