"""Fulfilment: the order's journey after checkout, run by a Step Functions state machine
(statemachines/fulfilment.asl.json) whose Python steps and external events all live in this folder.
"""
