"""`mlops-gen rehearse`: a render's whole multi-account life, played offline on an embedded moto.

One module per concern: `server` (the local AWS), `fidelity` and `regions` (where moto is made to behave
like AWS; `regions`: SageMaker's same-region rule at CreateModel), `rendered` (the render folder),
`organization`, `launch`, `pipeline` (the declared pipeline and
rules), `codebuild` and `actions` (what each action does), `scientist` (registering and approving),
`endpoints`, `report`, `scenario` (each scenario's expected outcome and the verdict), `roles` and
`authorize` (call-time authorization), `execution` (the stack-set execution's model and data-capture
calls in the target accounts, authorized where moto creates them), and `rehearsal`, which plays them in
order.

A rehearsal must fail where AWS would. It refuses a folder whose manifest does not match its files or
that `validate` has findings for, and every call it makes as a role of the product is authorized at call
time against that role's rendered policies (and the resource's policy) by generator/iam/iam_eval.py, through
a hook in the local server. moto's own IAM enforcement is not used for any part of it: tried with moto
5.2.5, it authorizes against the resource `*` (false denials and false allows) and refuses the keys the
rehearsal administers with; the evidence is in `authorize` and tests/test_rehearse_authorize.py.
"""

from generator.live.rehearse.rehearsal import Options, rehearse

__all__ = ["Options", "rehearse"]
