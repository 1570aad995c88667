"""`mlops-gen rehearse`: a render's whole multi-account life, played offline on an embedded moto.

One module per concern: `server` (the local AWS), `fidelity` (where moto is made to behave like
AWS), `rendered` (the render folder), `organization`, `launch`, `pipeline` (the declared pipeline and
rules), `codebuild` and `actions` (what each action does), `scientist` (registering and approving),
`endpoints`, `report`, and `rehearsal`, which plays them in order.
"""

from generator.rehearse.rehearsal import Options, rehearse

__all__ = ["Options", "rehearse"]
