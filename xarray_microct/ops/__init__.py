"""Pure operations by topic, each registered as a verb of the .microct accessor."""
