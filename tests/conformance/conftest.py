from tests.conformance.test_17_4_orchestrator_dispatch_reconciliation_retry import rig_factory

__all__ = ["rig_factory"]
