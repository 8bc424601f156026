"""_rules"""
