"""The Temporal executor: one durable workflow per issue run, executed by `tack worker`s.

`types` holds the workflow's wire data, `workflows` the deterministic workflow, `activities`
the steps a worker runs, `dispatch` the orchestrator's side, `worker` the worker process.
"""
