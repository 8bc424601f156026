"""_formats"""
