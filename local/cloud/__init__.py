"""A local Mage Cloud: the Mage Cloud API contract, served over real local Mage OSS clusters.

`mage-mcp local-cloud` keeps its state in one directory: the generated credentials, team
`local`, clusters `local-1` ... `local-N` (each a Mage OSS project with its own port), and
`cloud.env` with every variable a client needs. Starting a cluster starts its Mage process,
stopping it stops every process of that Mage, and a change of `extraEnvs` restarts it with the
new environment, as a Kubernetes rollout would.
"""
